/* RealNVP and NICE vector couplings in double: FD gradients (x and both nets, caught
 * when corrupted) and brute-force logdet, for both parities, odd D and each activation. */
#include "../unit/test_vec_common.h"

static void test_realnvp(void **state) {
    nf_activation acts[] = {NF_ACT_LEAKY_RELU, NF_ACT_TANH, NF_ACT_RELU};
    nf_shape shapes[] = {{5, 2, 1, 1, 1}, {4, 5, 1, 1, 1}};
    for (int a = 0; a < 3; a++)
        for (int s = 0; s < 2; s++)
            for (int parity = 0; parity < 2; parity++) {
                nf_layer *l;
                nf_mlp_spec net = {2, {8, 6}, acts[a]};
                NF_ASSERT_OK(nf_realnvp_create(&l, shapes[s], net, parity, 0));
                vt_check_gradients(l, shapes[s], 0.3, 1, 100 * a + 10 * s + parity);
            }
}

/* Through the soft clamp, with weights large enough that tanh is well into its bend. */
static void test_realnvp_clamped(void **state) {
    nf_shape in = {4, 5, 1, 1, 1};
    for (int parity = 0; parity < 2; parity++) {
        nf_layer *l;
        NF_ASSERT_OK(nf_realnvp_create(&l, in, nf_mlp_spec_uniform(8, 2, NF_ACT_TANH), parity, 0.7));
        vt_check_gradients(l, in, 0.8, 1, 30 + parity);
    }
}

static void test_nice(void **state) {
    nf_shape in = {4, 5, 1, 1, 1};
    for (int parity = 0; parity < 2; parity++) {
        nf_layer *l;
        NF_ASSERT_OK(nf_nice_create(&l, in, nf_mlp_spec_uniform(8, 2, NF_ACT_TANH), parity));
        vt_check_gradients(l, in, 0.3, 1, 7 + parity);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realnvp),
        cmocka_unit_test(test_realnvp_clamped),
        cmocka_unit_test(test_nice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
