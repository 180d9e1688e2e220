/* Reconstruction drift during training: trains a Glow with invertible backprop on an
 * HDF5 image dataset and, every few steps, runs one step in store-activations mode to
 * measure how far the rebuilt layer inputs are from the true ones.
 *   drift_probe file.h5:/path steps every L K hidden batch lr */
#include <nflow.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: drift_probe file.h5:/path steps every L K hidden batch lr\n");
        return 2;
    }
    int steps = atoi(argv[2]), every = atoi(argv[3]);
    nf_dataset_options o = nf_dataset_options_default();
    o.batch = atoi(argv[7]);
    nf_dataset *ds;
    if (nf_dataset_open(&ds, argv[1], &o)) goto fail;
    nf_shape s = nf_dataset_shape(ds);
    nf_glow_config c = nf_glow_config_default(s.c, s.h, s.w);
    c.levels = atoi(argv[4]), c.steps = atoi(argv[5]), c.hidden = atoi(argv[6]);
    nf_flow *f;
    if (nf_glow_create(&f, &c)) goto fail;
    nf_adam opt;
    if (nf_adam_init(&opt, nf_flow_num_params(f), atof(argv[8]))) goto fail;
    nf_tensor x;
    if (nf_tensor_alloc(&x, s.n, s.c, s.d, s.h, s.w)) goto fail;
    nf_rng rng;
    nf_rng_seed(&rng, 1);
    for (int it = 1; it <= steps; it++) {
        if (nf_dataset_next_batch(ds, &x, NULL, &rng)) goto fail;
        int probe = it % every == 0;
        if (probe) nf_flow_set_store_activations(f, 1);
        nf_loss_stats st;
        if (getenv("PROBE_MANUAL")) {
            /* the step by hand, to name the first layer whose gradient is not finite */
            static nf_tensor z, dz;
            static double *ld;
            if (!ld) {
                nf_tensor_alloc(&z, s.n, (int)nf_shape_sample_count(f->in), 1, 1, 1);
                nf_tensor_alloc(&dz, s.n, (int)nf_shape_sample_count(f->in), 1, 1, 1);
                ld = calloc((size_t)s.n, sizeof(double));
            }
            double dld;
            if (nf_flow_forward(f, &x, NULL, &z, ld) || nf_loss_nll(&z, ld, &dz, &dld, &st)) goto fail;
            nf_flow_zero_grad(f);
            if (nf_flow_backward(f, &z, &dz, NULL, dld, NULL, NULL)) goto fail;
            for (int i = f->nlayers - 1; i >= 0; i--) {
                nf_layer *l = f->layers[i];
                for (size_t k = 0; k < l->nparams; k++)
                    if (!isfinite(l->grad[k])) {
                        printf("step %d: layer %d (%s) gradient %zu is %g\n", it, i, l->ops->name, k, l->grad[k]);
                        return 3;
                    }
            }
            if (nf_adam_step(&opt, &f->params)) goto fail;
        } else if (nf_train_step(f, &opt, &x, NULL, &st)) goto fail;
        if (probe) {
            nf_flow_set_store_activations(f, 0);
            printf("step %d loss %.3f bpd %.4f drift %.3g\n", it, st.loss, st.bits_per_dim, f->drift);
            fflush(stdout);
        }
    }
    return 0;
fail:
    fprintf(stderr, "drift_probe: %s\n", nf_last_error());
    return 1;
}
