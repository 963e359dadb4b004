#include <string.h>
#include "table.h"
#include "convert.h"

static const struct unit *find(const char *name) {
    for (int i = 0; i < N_UNITS; i++)
        if (strcmp(UNITS[i].name, name) == 0) return &UNITS[i];
    return NULL;
}

int convert(double value, const char *from, const char *to, double *out) {
    const struct unit *a = find(from), *b = find(to);
    if (!a || !b) return -1;
    *out = value * a->metres / b->metres;
    return 0;
}
