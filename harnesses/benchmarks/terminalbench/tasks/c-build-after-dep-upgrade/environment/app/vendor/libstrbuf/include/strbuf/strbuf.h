#ifndef STRBUF_STRBUF_H
#define STRBUF_STRBUF_H
#include <stddef.h>

#define STRBUF_VERSION_MAJOR 2

struct strbuf {
    char *data;
    size_t len;
    size_t cap;
};

int sb_init(struct strbuf *sb, size_t cap);
int sb_append(struct strbuf *sb, const char *s, size_t n);
void sb_clear(struct strbuf *sb);
const char *sb_cstr(const struct strbuf *sb);
size_t sb_len(const struct strbuf *sb);
void sb_release(struct strbuf *sb);

#endif
