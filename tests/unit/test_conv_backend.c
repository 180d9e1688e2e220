/* nf_set_conv_backend in every build: im2col is the default; oneDNN can be selected
 * exactly where it is built in (NFLOW_DNNL) and is refused elsewhere, with a message and
 * no change; an unknown value is refused. */
#include "nftest.h"

#include "kernels/conv2d_dnnl.h"

static void test_default_and_switch(void **state) {
    assert_int_equal(nf_get_conv_backend(), NF_CONV_IM2COL);
    int built = nf_dnnl_conv_takes(4, 8, 8, 8, 8, 3); /* 0 from the stub of builds without oneDNN */
    if (built) {
        NF_ASSERT_OK(nf_set_conv_backend(NF_CONV_DNNL));
        assert_int_equal(nf_get_conv_backend(), NF_CONV_DNNL);
        NF_ASSERT_OK(nf_set_conv_backend(NF_CONV_IM2COL));
    } else {
        NF_ASSERT_FAILS(nf_set_conv_backend(NF_CONV_DNNL), NF_ERR_ARG);
        assert_non_null(strstr(nf_last_error(), "NFLOW_DNNL"));
    }
    assert_int_equal(nf_get_conv_backend(), NF_CONV_IM2COL);
    NF_ASSERT_FAILS(nf_set_conv_backend((nf_conv_backend)7), NF_ERR_ARG);
    assert_int_equal(nf_get_conv_backend(), NF_CONV_IM2COL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_and_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
