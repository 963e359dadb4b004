#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "table.h"
#include "convert.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: units VALUE FROM TO\n");
        return 2;
    }
    double out;
    if (convert(atof(argv[1]), argv[2], argv[3], &out) != 0) {
        fprintf(stderr, "units: unknown unit (known: %d)\n", N_UNITS);
        return 1;
    }
    printf("%s %s = %g %s\n", argv[1], argv[2], out, argv[3]);
    return 0;
}
