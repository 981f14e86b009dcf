/* args.h - table-driven command-line flags, strict.
 *
 * Each flag is "--name VALUE" or "--name=VALUE" (switches take no value).
 * Unknown flags, missing values, malformed numbers and out-of-range values
 * are ST_ERR_ARG with a message naming the flag. Positional arguments are
 * collected in order. Nothing here prints or exits. */
#ifndef FMNIST_ARGS_H
#define FMNIST_ARGS_H

#include "util/status.h"

typedef enum {
    ARG_INT,     /* int*, range [lo, hi]                         */
    ARG_FLOAT,   /* float*, range [lo, hi]                       */
    ARG_STR,     /* const char**                                 */
    ARG_SWITCH,  /* int*, set to 1                               */
    ARG_FLOATS,  /* FloatList*, comma-separated, each in [lo, hi] */
    ARG_FLOAT_LISTS, /* FloatLists*, as ARG_FLOATS but repeatable: each
                       occurrence appends one list                  */
    ARG_STRS     /* StrList*, repeatable: each occurrence appends one */
} ArgType;

#define ARGS_MAX_FLOATS 64
typedef struct {
    int n;
    float v[ARGS_MAX_FLOATS];
} FloatList;

#define ARGS_MAX_LISTS 32
typedef struct {
    int n;
    FloatList v[ARGS_MAX_LISTS];
} FloatLists;

typedef struct {
    int n;
    const char *v[ARGS_MAX_LISTS];
} StrList;

typedef struct {
    const char *name;   /* without the leading "--" */
    ArgType type;
    void *dst;
    double lo, hi;
    const char *meta;   /* the value's name in --help ("N", "FILE") */
    const char *help;
    int seen;           /* set by args_parse */
} ArgSpec;

/* Parses argv[0..argc) against specs[0..nspecs). Positional arguments go to
 * pos (at most maxpos; more is an error). "--help"/"-h" sets *help. */
Status args_parse(int argc, char **argv, ArgSpec *specs, int nspecs, const char **pos, int maxpos, int *npos,
                  int *help, Err *e);
/* The flag whose value is dst (NULL if none), and whether it was given:
 * flags are found by the address of their variable, never by their place
 * in a table, so reordering a table breaks nothing. */
const ArgSpec *args_find(const ArgSpec *specs, int nspecs, const void *dst);
int args_given(const ArgSpec *specs, int nspecs, const void *dst);
/* The message of an unknown flag: "unknown flag '--NAME'" and, if a flag of
 * specs[0..nspecs) or of more[0..nmore) is near NAME (nlen characters; see
 * util/suggest.h), "; did you mean --FLAG?". Into buf (len bytes). */
const char *args_unknown(const char *name, size_t nlen, const ArgSpec *specs, int nspecs, const ArgSpec *more,
                         int nmore, char *buf, size_t len);
/* Prints "  --name META   help" lines. */
void args_print_help(const ArgSpec *specs, int nspecs, void *file);

#endif
