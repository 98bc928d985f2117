cmd_mm/a.o := gcc -Wp,-MMD,mm/.a.o.d -nostdinc -I./include -O2 -c -o mm/a.o mm/a.c  

source_mm/a.o := mm/a.c

deps_mm/a.o := \
    $(wildcard include/config/FOO) \
  mm/b.h \
  include/c.h \

mm/a.o: $(deps_mm/a.o)

$(deps_mm/a.o):
