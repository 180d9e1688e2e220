/* HINT in double: FD gradients (x and every node's nets, caught when corrupted) and
 * brute-force logdet for leaves only, one and two levels of recursion, odd sizes. */
#include "../unit/test_vec_common.h"

static void test_hint(void **state) {
    int sizes[] = {2, 3, 6, 9, 11};
    for (int s = 0; s < 5; s++) {
        nf_shape in = {3, sizes[s], 1, 1, 1};
        nf_layer *l;
        NF_ASSERT_OK(nf_hint_create(&l, in, (nf_mlp_spec){2, {6, 5}, s % 2 ? NF_ACT_TANH : NF_ACT_LEAKY_RELU}));
        vt_check_gradients(l, in, 0.3, 1, (uint64_t)(40 + s));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
