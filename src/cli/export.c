/* export.c - `fmnist export`: a checkpoint as a NumPy .npz, a safetensors file
 * or an ONNX model.
 *
 * Loads the checkpoint (every check of weights_load applies), then writes the
 * file atomically with model/export.c. The format is --format, or the output
 * name's extension (.npz, .safetensors, .onnx). `-o FILE` is accepted for `--out FILE`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "model/export.h"
#include "model/weights.h"
#include "util/args.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int cmd_export(int argc, char **argv)
{
    const char *weights = NULL, *format = NULL, *out = NULL;
    ArgSpec specs[] = {
        {"weights", ARG_STR, &weights, 0, 0, "FILE", "checkpoint written by train (model.fmw)", 0},
        {"format", ARG_STR, &format, 0, 0, "NAME", "npz | safetensors | onnx (default: from the output's extension)", 0},
        {"out", ARG_STR, &out, 0, 0, "FILE", "output file (also -o FILE)", 0},
    };
    char out_flag[] = "--out";
    for (int i = 0; i < argc; i++) /* -o FILE is --out FILE */
        if (!strcmp(argv[i], "-o")) argv[i] = out_flag;
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 1, &npos, &help, &e);
    if (st) return cli_usage_error("export", &e);
    if (npos && !help) return cli_stray_argument("export", pos[0]);
    if (help) {
        printf("usage: fmnist export --weights FILE [--format npz|safetensors|onnx] -o FILE\n\n"
               "Writes a trained model for other tools:\n"
               "  npz          NumPy arrays keyed by the PyTorch nn.Sequential state_dict names, float32\n"
               "               (model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(f).items()}))\n"
               "  safetensors  the same tensors under the same names in Hugging Face's format\n"
               "               (model.load_state_dict(safetensors.torch.load_file(f))); the model text\n"
               "               is in its metadata\n"
               "  onnx         ONNX (opset %d): input 'input' float32 [N,1,28,28] with pixels in [0,1],\n"
               "               output 'logits' [N,10]; normalization inside, dropout left out\n\n",
               EXPORT_ONNX_OPSET);
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    if (!weights || !out) {
        err_set(&e, ST_ERR_ARG, "%s is required", !weights ? "--weights FILE" : "-o FILE");
        return cli_usage_error("export", &e);
    }
    if (!format) {
        if (ends_with(out, ".npz")) format = "npz";
        else if (ends_with(out, ".safetensors")) format = "safetensors";
        else if (ends_with(out, ".onnx")) format = "onnx";
        else {
            err_set(&e, ST_ERR_ARG, "--format npz|safetensors|onnx is required when the output name ends in none of "
                    ".npz, .safetensors, .onnx");
            return cli_usage_error("export", &e);
        }
    }
    int npz = !strcmp(format, "npz"), st_format = !strcmp(format, "safetensors");
    if (!npz && !st_format && strcmp(format, "onnx")) {
        err_set(&e, ST_ERR_ARG, "--format: expected npz, safetensors or onnx, got '%s'", format);
        return cli_usage_error("export", &e);
    }
    CliFiles in = {0}, outs = {0};
    cli_files_add(&in, "the checkpoint --weights", weights, "");
    cli_files_add(&outs, "-o", out, "");
    int rc = cli_check_files("export", &in, &outs, NULL);
    cli_files_free(&in);
    cli_files_free(&outs);
    if (rc) return rc;
    Net *net;
    if ((st = weights_load(weights, 1, &net, NULL, &e))) return cli_fail(st, &e);
    st = npz ? export_npz(net, out, &e) : st_format ? export_safetensors(net, out, &e) : export_onnx(net, out, &e);
    if (!st)
        printf("wrote %s (%s, %d tensors, %zu parameters)\n", out,
               npz ? "NumPy npz" : st_format ? "safetensors" : "ONNX", net->ntensors,
               net->nparams - net->nbuffers);
    net_free(net);
    return st ? cli_fail(st, &e) : 0;
}
