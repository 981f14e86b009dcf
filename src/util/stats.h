/* stats.h - the statistics of repeated runs: mean, sample standard
 * deviation and the 95% confidence interval of a mean (Student's t).
 *
 * A sweep trains each setting once per seed; these turn the seeds' figures
 * into "mean +- sd" and an interval, and the per-seed differences of two
 * settings (paired: same seeds) into the interval of the mean difference. */
#ifndef FMNIST_STATS_H
#define FMNIST_STATS_H

typedef struct {
    int n;          /* values                                                  */
    double mean;    /* NaN if n == 0                                           */
    double sd;      /* sample standard deviation (divisor n - 1); NaN if n < 2 */
    double lo, hi;  /* 95% interval of the mean: mean -+ t(0.975, n-1) sd/sqrt(n);
                       NaN if n < 2                                            */
} Stat;

/* The Stat of x[0..n) (n >= 0). */
void stats_of(const double *x, int n, Stat *s);

/* The 0.975 quantile of Student's t distribution with df >= 1 degrees of
 * freedom (12.706 for df 1, 2.776 for df 4, -> 1.960 as df grows), to 4
 * significant digits at least. */
double stats_t975(int df);

#endif
