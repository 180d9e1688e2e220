/* MAF and IAF in double: FD gradients in x and the MADE parameters (caught when
 * corrupted) and logdet against the brute-force Jacobian, for both orders. IAF's
 * backward solves a triangular system by MADE vector-Jacobian products: this is
 * what proves it. */
#include "../unit/test_vec_common.h"

static void test_maf_iaf(void **state) {
    nf_shape shapes[] = {{4, 2, 1, 1, 1}, {3, 5, 1, 1, 1}};
    nf_activation acts[] = {NF_ACT_TANH, NF_ACT_LEAKY_RELU};
    for (int s = 0; s < 2; s++)
        for (int parity = 0; parity < 2; parity++) {
            nf_mlp_spec net = {2, {8, 8}, acts[(s + parity) % 2]};
            nf_layer *l;
            NF_ASSERT_OK(nf_maf_create(&l, shapes[s], net, parity));
            vt_check_gradients(l, shapes[s], 0.3, 1, 20 * s + parity);
            NF_ASSERT_OK(nf_iaf_create(&l, shapes[s], net, parity));
            vt_check_gradients(l, shapes[s], 0.3, 1, 20 * s + parity + 7);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maf_iaf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
