#include <ctype.h>
#include <stdio.h>
#include "strbuf.h"

/* Counts the words on standard input and remembers the longest (the first of that length). */
int main(void) {
    strbuf *word = sb_new();
    strbuf *longest = sb_new();
    long words = 0;
    int c;
    char ch[2] = {0, 0};
    do {
        c = getchar();
        if (c != EOF && !isspace(c)) {
            ch[0] = (char)c;
            sb_append(word, ch);
            continue;
        }
        if (sb_str(word)[0] != '\0') {
            words++;
            if (strlen(sb_str(word)) > strlen(sb_str(longest))) {
                sb_free(longest);
                longest = sb_new();
                sb_append(longest, sb_str(word));
            }
            sb_free(word);
            word = sb_new();
        }
    } while (c != EOF);
    printf("words: %ld\nlongest: %s\n", words, sb_str(longest));
    sb_free(word);
    sb_free(longest);
    return 0;
}
