/* Channel split (factor-out): in-place compaction and expansion, odd channel counts,
 * volumes, exact round trip, shape errors and NULL pointers. */
#include "nftest.h"

/* Splits a random (n, c, d, h, w) batch, checks x and z against the original, then
 * puts it back and checks the round trip is exact. */
static void check_round_trip(int n, int c, int d, int h, int w) {
    nf_tensor x = nftest_randn(n, c, d, h, w, 3), orig = nftest_randn(n, c, d, h, w, 3), z;
    int keep = c / 2;
    NF_ASSERT_OK(nf_tensor_alloc(&z, n, c - keep, d, h, w));
    NF_ASSERT_OK(nf_split_forward(&x, &z));
    assert_true(x.n == n && x.c == keep && x.d == d && x.h == h && x.w == w);
    size_t dhw = (size_t)d * h * w;
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (size_t v = 0; v < dhw; v++) {
                nf_real want = orig.data[((size_t)b * c + ch) * dhw + v];
                nf_real got = ch < keep ? x.data[((size_t)b * keep + ch) * dhw + v]
                                        : z.data[((size_t)b * (c - keep) + ch - keep) * dhw + v];
                assert_true(got == want);
            }
    NF_ASSERT_OK(nf_split_inverse(&x, &z));
    assert_true(x.n == n && x.c == c && x.d == d && x.h == h && x.w == w);
    assert_memory_equal(x.data, orig.data, nf_tensor_count(&orig) * sizeof(nf_real));
    nf_tensor_free(&x);
    nf_tensor_free(&z);
    nf_tensor_free(&orig);
}

static void test_round_trip(void **state) {
    check_round_trip(3, 4, 1, 5, 6);  /* even channels */
    check_round_trip(4, 5, 1, 3, 2);  /* odd: x keeps 2, z gets 3 */
    check_round_trip(2, 3, 2, 2, 3);  /* a 3-D volume */
    check_round_trip(150, 2, 1, 1, 1); /* vectors */
    check_round_trip(1, 2, 1, 1, 1);
}

static void test_errors(void **state) {
    nf_tensor x = nftest_randn(2, 4, 1, 3, 3, 1), one = nftest_randn(2, 1, 1, 3, 3, 1);
    nf_tensor z3 = nftest_randn(2, 3, 1, 3, 3, 1), zn = nftest_randn(3, 2, 1, 3, 3, 1);
    nf_tensor zh = nftest_randn(2, 2, 1, 2, 3, 1), z = nftest_randn(2, 2, 1, 3, 3, 1);
    NF_ASSERT_FAILS(nf_split_forward(NULL, &z), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_split_forward(&x, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_split_forward(&one, &z), NF_ERR_SHAPE); /* nothing to split */
    assert_non_null(strstr(nf_last_error(), "1 channel"));
    NF_ASSERT_FAILS(nf_split_forward(&x, &z3), NF_ERR_SHAPE); /* z must have c - c/2 = 2 channels */
    NF_ASSERT_FAILS(nf_split_forward(&x, &zn), NF_ERR_SHAPE); /* batch sizes differ */
    NF_ASSERT_FAILS(nf_split_forward(&x, &zh), NF_ERR_SHAPE); /* image sizes differ */
    nf_tensor nodata = z;
    nodata.data = NULL;
    NF_ASSERT_FAILS(nf_split_forward(&x, &nodata), NF_ERR_ARG);
    assert_int_equal(x.c, 4); /* failed calls leave x alone */

    NF_ASSERT_OK(nf_split_forward(&x, &z));
    nf_tensor z4 = nftest_randn(2, 4, 1, 3, 3, 1);
    NF_ASSERT_FAILS(nf_split_inverse(NULL, &z), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_split_inverse(&x, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_split_inverse(&x, &z4), NF_ERR_SHAPE); /* no split leaves 2 and 4 channels */
    NF_ASSERT_FAILS(nf_split_inverse(&x, &zn), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_split_inverse(&x, &zh), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_split_inverse(&x, &nodata), NF_ERR_ARG);
    assert_int_equal(x.c, 2);
    NF_ASSERT_OK(nf_split_inverse(&x, &z));
    assert_int_equal(x.c, 4);
    nf_tensor_free(&x);
    nf_tensor_free(&one);
    nf_tensor_free(&z3);
    nf_tensor_free(&zn);
    nf_tensor_free(&zh);
    nf_tensor_free(&z);
    nf_tensor_free(&z4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
