#include <stdlib.h>
#include <string.h>
#include "strbuf/strbuf.h"

int sb_init(struct strbuf *sb, size_t cap) {
    if (cap < 16) cap = 16;
    sb->data = malloc(cap);
    if (!sb->data) return -1;
    sb->data[0] = '\0';
    sb->len = 0;
    sb->cap = cap;
    return 0;
}

static int grow(struct strbuf *sb, size_t need) {
    size_t cap = sb->cap;
    while (cap < need) cap *= 2;
    if (cap == sb->cap) return 0;
    char *p = realloc(sb->data, cap);
    if (!p) return -1;
    sb->data = p;
    sb->cap = cap;
    return 0;
}

int sb_append(struct strbuf *sb, const char *s, size_t n) {
    if (grow(sb, sb->len + n + 1) != 0) return -1;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return 0;
}

void sb_clear(struct strbuf *sb) {
    sb->len = 0;
    sb->data[0] = '\0';
}

const char *sb_cstr(const struct strbuf *sb) { return sb->data; }

size_t sb_len(const struct strbuf *sb) { return sb->len; }

void sb_release(struct strbuf *sb) {
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}
