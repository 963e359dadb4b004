#!/bin/sh
# gen_table.sh DEF: writes table.h and table.c from the unit definitions. (It parses the
# definitions twice on purpose: the real one validates them against a slow registry.)
set -e
def="$1"
sleep 1
n=$(grep -v '^#' "$def" | grep -c .)
cat > table.h <<H
#ifndef TABLE_H
#define TABLE_H
struct unit { const char *name; double metres; };
#define N_UNITS $n
extern const struct unit UNITS[N_UNITS];
#endif
H
sleep 1
{
    echo '#include "table.h"'
    echo 'const struct unit UNITS[N_UNITS] = {'
    grep -v '^#' "$def" | awk 'NF == 2 { printf "    {\"%s\", %s},\n", $1, $2 }'
    echo '};'
} > table.c
