/*
 * The C ceiling for the elliptic-curve operations an EDHOC handshake needs, measured
 * with the system's libcrypto where `openssl speed` has no entry: fixed-base scalar
 * multiplication (key generation) and variable-base multiplication (ECDH) on P-256 and
 * the SM2 curve, and X25519 key generation. `meterseal bench crypto` compiles and runs
 * it in the same session as the Python measurements it is compared with.
 *
 * Usage: ec_ceiling SECONDS
 * Output: one line per operation, "name ops_per_second".
 */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Multiply `batch` times per check of the clock; return multiplications per second. */
static double ec_rate(int nid, int fixed_base, double seconds) {
    EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *k = BN_new(), *x = BN_new(), *y = BN_new();
    EC_POINT *peer = EC_POINT_new(group), *out = EC_POINT_new(group);
    BN_rand_range(k, EC_GROUP_get0_order(group));
    EC_POINT_mul(group, peer, k, NULL, NULL, ctx);
    long count = 0;
    double start = now(), end = start + seconds, t = start;
    while (t < end) {
        for (int i = 0; i < 16; i++) {
            if (fixed_base)
                EC_POINT_mul(group, out, k, NULL, NULL, ctx);
            else
                EC_POINT_mul(group, out, NULL, peer, k, ctx);
            EC_POINT_get_affine_coordinates(group, out, x, y, ctx);
        }
        count += 16;
        t = now();
    }
    EC_POINT_free(peer); EC_POINT_free(out);
    BN_free(k); BN_free(x); BN_free(y);
    BN_CTX_free(ctx); EC_GROUP_free(group);
    return count / (t - start);
}

/* One keygen context, reused: the cheapest way libcrypto offers to make X25519 keys. */
static double x25519_keygen_rate(double seconds) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    EVP_PKEY_keygen_init(ctx);
    long count = 0;
    double start = now(), end = start + seconds, t = start;
    while (t < end) {
        for (int i = 0; i < 16; i++) {
            EVP_PKEY *key = NULL;
            EVP_PKEY_keygen(ctx, &key);
            EVP_PKEY_free(key);
        }
        count += 16;
        t = now();
    }
    EVP_PKEY_CTX_free(ctx);
    return count / (t - start);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    printf("p256_keygen %.1f\n", ec_rate(NID_X9_62_prime256v1, 1, seconds));
    printf("p256_ecdh %.1f\n", ec_rate(NID_X9_62_prime256v1, 0, seconds));
    printf("sm2_keygen %.1f\n", ec_rate(NID_sm2, 1, seconds));
    printf("sm2_ecdh %.1f\n", ec_rate(NID_sm2, 0, seconds));
    printf("x25519_keygen %.1f\n", x25519_keygen_rate(seconds));
    return 0;
}
