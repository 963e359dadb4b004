#!/bin/bash
# Reference solution: port wordstat to libstrbuf 2.0 and link the library's archive.
set -euo pipefail
cd /app
cat > src/wordstat.c <<'C'
#include <ctype.h>
#include <stdio.h>
#include <strbuf/strbuf.h>

/* Counts the words on standard input and remembers the longest (the first of that length). */
int main(void) {
    struct strbuf word, longest;
    long words = 0;
    int c;
    if (sb_init(&word, 64) != 0 || sb_init(&longest, 64) != 0) return 1;
    do {
        c = getchar();
        if (c != EOF && !isspace(c)) {
            char ch = (char)c;
            sb_append(&word, &ch, 1);
            continue;
        }
        if (sb_len(&word) > 0) {
            words++;
            if (sb_len(&word) > sb_len(&longest)) {
                sb_clear(&longest);
                sb_append(&longest, sb_cstr(&word), sb_len(&word));
            }
            sb_clear(&word);
        }
    } while (c != EOF);
    printf("words: %ld\nlongest: %s\n", words, sb_cstr(&longest));
    sb_release(&word);
    sb_release(&longest);
    return 0;
}
C
cat > Makefile <<'M'
CC ?= cc
CFLAGS ?= -O2 -Wall -Werror
CPPFLAGS += -Ivendor/libstrbuf/include
LIB = vendor/libstrbuf/libstrbuf.a

wordstat: src/wordstat.c $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ src/wordstat.c $(LIB)

$(LIB):
	$(MAKE) -C vendor/libstrbuf

clean:
	rm -f wordstat
	$(MAKE) -C vendor/libstrbuf clean

.PHONY: clean
M
make
