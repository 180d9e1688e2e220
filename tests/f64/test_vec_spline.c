/* The spline coupling in double: the spline's hand-written derivatives (in x and all
 * 3K-1 raw values, of both y and log y') against central differences, then the
 * layer's FD gradients and brute-force logdet with values inside and outside the bound. */
#include "../unit/test_vec_common.h"

#include "layers/rq_spline.h"

static void test_spline_derivatives(void **state) {
    int K = 5;
    double B = 2, eps = 1e-6;
    nf_real raw[14], draw[14], rp[14];
    nf_rng r;
    nf_rng_seed(&r, 4);
    for (int trial = 0; trial < 40; trial++) {
        for (int i = 0; i < 14; i++) raw[i] = nf_rng_normal(&r);
        double x = 2.4 * (2 * nf_rng_uniform(&r) - 1), gy = nf_rng_normal(&r), gl = nf_rng_normal(&r);
        double gx = nf_rqs_backward(raw, K, B, x, gy, gl, draw);
        double yp, lp, ym, lm;
        nf_rqs_forward(raw, K, B, x + eps, &yp, &lp);
        nf_rqs_forward(raw, K, B, x - eps, &ym, &lm);
        double num = (gy * (yp - ym) + gl * (lp - lm)) / (2 * eps);
        assert_true(fabs(gx - num) <= 1e-5 * fmax(1, fabs(num)));
        for (int j = 0; j < 14; j++) {
            for (int i = 0; i < 14; i++) rp[i] = raw[i];
            rp[j] += eps;
            nf_rqs_forward(rp, K, B, x, &yp, &lp);
            rp[j] -= 2 * eps;
            nf_rqs_forward(rp, K, B, x, &ym, &lm);
            num = (gy * (yp - ym) + gl * (lp - lm)) / (2 * eps);
            if (!(fabs(draw[j] - num) <= 1e-5 * fmax(1, fabs(num))))
                fail_msg("trial %d x %g raw %d: analytic %g numeric %g", trial, x, j, draw[j], num);
        }
    }
}

static void test_layer(void **state) {
    nf_shape shapes[] = {{4, 2, 1, 1, 1}, {3, 5, 1, 1, 1}};
    for (int s = 0; s < 2; s++)
        for (int parity = 0; parity < 2; parity++) {
            nf_layer *l;
            nf_mlp_spec net = {2, {8, 8}, parity ? NF_ACT_TANH : NF_ACT_LEAKY_RELU};
            NF_ASSERT_OK(nf_spline_create(&l, shapes[s], net, 6, 1.5, parity)); /* N(0,1) data leave [-1.5, 1.5] */
            vt_check_gradients(l, shapes[s], 0.5, 1, 10 * s + parity);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spline_derivatives),
        cmocka_unit_test(test_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
