/* stats.c - mean, sample standard deviation and the 95% t interval of a
 * mean, and the 0.975 quantile of Student's t that the interval needs.
 *
 * The quantile is exact for df up to STATS_T_SERIES_MAX: Student's t has a
 * closed-form distribution for integer df (Abramowitz & Stegun 26.7.3-4, a
 * finite sum of df/2 positive terms in cos(theta), t = sqrt(df) tan(theta)),
 * which is solved for P(|T| <= t) = 0.95 by bisection on theta. Above it,
 * the Cornish-Fisher expansion in 1/df (A&S 26.7.5, four terms) is used; at
 * df = 1000 its remainder is below 1e-13, and a test checks that both agree
 * there. */
#include "util/stats.h"

#include <math.h>

#define STATS_T_SERIES_MAX 1000
#define STATS_PI 3.14159265358979323846
#define STATS_Z975 1.959963984540054 /* the 0.975 quantile of the normal distribution */

void stats_of(const double *x, int n, Stat *s)
{
    s->n = n < 0 ? 0 : n;
    s->mean = s->sd = s->lo = s->hi = NAN;
    if (s->n == 0) return;
    double sum = 0;
    for (int i = 0; i < s->n; i++) sum += x[i];
    s->mean = sum / s->n;
    if (s->n < 2) return;
    double ss = 0; /* second pass: no cancellation of large squares */
    for (int i = 0; i < s->n; i++) ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->sd = sqrt(ss / (s->n - 1));
    double half = stats_t975(s->n - 1) * s->sd / sqrt((double)s->n);
    s->lo = s->mean - half;
    s->hi = s->mean + half;
}

/* P(|T| <= sqrt(df) tan(theta)) for Student's t with df degrees of freedom,
 * 0 <= theta < pi/2 (A&S 26.7.3 for odd df, 26.7.4 for even df). */
static double t_central_prob(int df, double theta)
{
    double s = sin(theta), c2 = cos(theta) * cos(theta);
    if (df % 2 == 0) { /* sin(theta) (1 + 1/2 c^2 + 1*3/(2*4) c^4 + ... up to c^(df-2)) */
        double term = 1, sum = 1;
        for (int k = 1; k <= df / 2 - 1; k++) {
            term *= (2.0 * k - 1) / (2.0 * k) * c2;
            sum += term;
        }
        return s * sum;
    }
    /* 2/pi (theta + sin(theta) (c + 2/3 c^3 + 2*4/(3*5) c^5 + ... up to c^(df-2))) */
    double term = cos(theta), sum = 0;
    for (int k = 0; k <= (df - 3) / 2; k++) {
        if (k > 0) term *= (2.0 * k) / (2.0 * k + 1) * c2;
        sum += term;
    }
    return 2 / STATS_PI * (theta + s * sum);
}

/* The exact quantile: bisection on theta in (0, pi/2), where the central
 * probability rises from 0 to 1; 200 halvings reach the spacing of doubles. */
static double t975_series(int df)
{
    double lo = 0, hi = STATS_PI / 2;
    for (int i = 0; i < 200 && hi - lo > 0; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (t_central_prob(df, mid) < 0.95) lo = mid;
        else hi = mid;
    }
    return sqrt((double)df) * tan(0.5 * (lo + hi));
}

/* The Cornish-Fisher expansion of the quantile in powers of 1/df. */
static double t975_expansion(double df)
{
    double z = STATS_Z975, z2 = z * z;
    double g1 = z * (z2 + 1) / 4;
    double g2 = z * ((5 * z2 + 16) * z2 + 3) / 96;
    double g3 = z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384;
    double g4 = z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160;
    return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
}

double stats_t975(int df)
{
    if (df < 1) return NAN;
    if (df <= STATS_T_SERIES_MAX) return t975_series(df);
    return t975_expansion(df);
}
