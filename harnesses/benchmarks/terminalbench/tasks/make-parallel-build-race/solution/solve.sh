#!/bin/bash
# Reference solution: the generator makes two files in one run (a grouped target), and
# every object that includes table.h depends on it.
set -euo pipefail
cd /app
cat > Makefile <<'MK'
CC ?= cc
CFLAGS ?= -O2 -Wall -Werror

units: main.o convert.o table.o
	$(CC) -o $@ $^

table.c table.h &: units.def gen_table.sh
	./gen_table.sh units.def

main.o convert.o table.o: table.h
main.o convert.o: convert.h

%.o: %.c
	$(CC) $(CFLAGS) -c -o $@ $<

clean:
	rm -f units *.o table.c table.h

.PHONY: clean
MK
for n in 1 4 8; do make clean >/dev/null && make -j$n >/dev/null && ./units 3 km m; done
