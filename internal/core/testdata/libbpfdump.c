// libbpfdump prints the instructions libbpf produces for each program of
// an object after CO-RE relocation against a target BTF (a raw BTF file,
// or the running kernel's when none is given): the oracle for the libbpf
// rules of internal/core. Each program is opened and loaded alone, so
// libbpf relocates only that program. Run by testdata/golden.sh.
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

static int silent(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argv[1], *btf = argc > 2 ? argv[2] : NULL;
	struct bpf_object *obj;
	struct bpf_program *prog, *p;
	int n = 0;

	libbpf_set_print(silent);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return 1;
	bpf_object__for_each_program(prog, obj)
		n++;
	bpf_object__close(obj);

	for (int i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf);
		int j = 0, err;

		obj = bpf_object__open_file(path, &opts);
		if (!obj)
			return 1;
		bpf_object__for_each_program(p, obj) {
			bpf_program__set_autoload(p, j == i);
			if (j == i)
				prog = p;
			j++;
		}
		err = bpf_object__load(obj);
		printf("prog %s load=%d\n", bpf_program__name(prog), err);
		const struct bpf_insn *insns = bpf_program__insns(prog);
		size_t cnt = bpf_program__insn_cnt(prog);
		for (size_t k = 0; k < cnt; k++)
			printf("%02x %x %x %d %d\n", insns[k].code, insns[k].dst_reg, insns[k].src_reg, insns[k].off, insns[k].imm);
		bpf_object__close(obj);
	}
	return 0;
}
