/* pingpong.c - `make bench-mpi`: the latency and bandwidth of the link
 * between two MPI ranks (loopback when both are on this machine), the
 * alpha and beta of the model time(n bytes) = alpha + n / beta that
 * docs/scaling.md uses.
 *
 *   mpirun -np 2 build/mpi/pingpong [MAX_BYTES]     (default 16 MiB)
 *
 * For each size from 8 bytes to MAX_BYTES (x4 steps, and MAX_BYTES) rank 0 sends a message
 * and rank 1 sends it back, many times; the one-way time is half the round
 * trip, the best of 5 batches (a shared machine's noise only adds time).
 * The fit minimizes the relative error (least squares weighted by 1/t^2),
 * so that the small messages fix alpha and the large ones beta. The last
 * two lines, alpha_s= and beta_Bps=, are for scripts. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCHES = 5 };

/* The best mean one-way time of n-byte messages over BATCHES batches. */
static double one_way(char *buf, int n, int reps, int rank)
{
    double best = 1e30;
    for (int b = 0; b < BATCHES; b++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < reps; i++) {
            if (rank == 0) {
                MPI_Send(buf, n, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buf, n, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, n, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, n, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
            }
        }
        double t = (MPI_Wtime() - t0) / (2.0 * reps);
        if (t < best) best = t;
    }
    MPI_Bcast(&best, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return best;
}

/* Weighted least squares of t = a + n / beta with weights 1/t^2. */
static void fit(const double *n, const double *t, int k, double *alpha, double *beta)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < k; i++) {
        double w = 1 / (t[i] * t[i]);
        sw += w, sx += w * n[i], sy += w * t[i], sxx += w * n[i] * n[i], sxy += w * n[i] * t[i];
    }
    double slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
    *alpha = (sy - slope * sx) / sw;
    *beta = 1 / slope;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) fprintf(stderr, "pingpong: run it on 2 ranks (mpirun -np 2), not %d\n", size);
        MPI_Finalize();
        return 2;
    }
    long max = argc > 1 ? atol(argv[1]) : 16L << 20;
    if (max < 8 || max > 1L << 30) max = 16L << 20;
    char *buf = calloc((size_t)max, 1);
    char host[MPI_MAX_PROCESSOR_NAME], other[MPI_MAX_PROCESSOR_NAME];
    int len;
    MPI_Get_processor_name(host, &len);
    if (rank == 0) MPI_Recv(other, sizeof other, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    else MPI_Send(host, (int)sizeof host, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
    if (rank == 0) printf("pingpong: rank 0 on %s, rank 1 on %s; one-way time = half the round trip, best of %d batches\n"
                          "%10s %12s %12s\n", host, other, BATCHES, "bytes", "one-way us", "MB/s");
    double ns[32], ts[32];
    int k = 0;
    for (long n = 8; k < 32; n = n * 4 < max ? n * 4 : max, k++) { /* x4 steps, then max itself */
        int reps = n <= 65536 ? 1000 : (int)(64L * 1048576 / n) + 4;
        one_way(buf, (int)n, 10, rank); /* warm-up: connections, registration */
        ns[k] = (double)n;
        ts[k] = one_way(buf, (int)n, reps, rank);
        if (rank == 0) printf("%10ld %12.3f %12.1f\n", n, ts[k] * 1e6, (double)n / ts[k] / 1e6);
        if (n == max) {
            k++;
            break;
        }
    }
    if (rank == 0) {
        double alpha, beta;
        fit(ns, ts, k, &alpha, &beta);
        printf("fit time(n) = alpha + n / beta (relative least squares): alpha = %.2f us, beta = %.2f GB/s\n",
               alpha * 1e6, beta / 1e9);
        printf("alpha_s=%.4g\nbeta_Bps=%.4g\n", alpha, beta);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
