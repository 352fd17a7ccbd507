/* stasis-init's command line, and the two ways a computation starts (see init.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "init.h"

static __attribute__((noreturn)) void usage(void)
{
	init_die("usage: stasis-init launch --coord IPV4:PORT --ckpt-dir DIR [--preload LIB] -- PROGRAM [ARGS...]\n"
		 "       stasis-init restart --coord IPV4:PORT --ckpt-dir DIR --loader PATH [--no-map]  (plan on fd 3)");
}

static void parse(int argc, char **argv, struct init_opts *o)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "restart"))
		o->restart = 1;
	else if (strcmp(argv[1], "launch"))
		usage();
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--coord") && i + 1 < argc)
			o->coord = argv[++i];
		else if (!strcmp(argv[i], "--ckpt-dir") && i + 1 < argc)
			o->ckpt_dir = argv[++i];
		else if (!strcmp(argv[i], "--loader") && i + 1 < argc)
			o->loader = argv[++i];
		else if (!strcmp(argv[i], "--no-map") && o->restart)
			o->no_map = 1;
		else if (!strcmp(argv[i], "--preload") && i + 1 < argc)
			o->preload = argv[++i];
		else if (!strcmp(argv[i], "--") && !o->restart && i + 1 < argc) {
			o->argv = argv + i + 1;
			break;
		} else
			usage();
	}
	if (!o->coord || !o->ckpt_dir || (o->restart ? !o->loader : !o->argv))
		usage();
}

int main(int argc, char **argv)
{
	struct init_opts o = { 0 };
	parse(argc, argv, &o);
	sigset_t orig;
	sigprocmask(SIG_SETMASK, 0, &orig);
	struct plan plan = { 0 };
	if (o.restart) {
		plan_read(3, &plan); /* before the namespaces: errors are plain */
		sysv_check(&plan);  /* the SysV data file is whole (the images: src/restart/check.ts) */
	}

	init_enter_namespaces(o.restart ? &plan : 0);
	/* Join first: a checkpoint must never see the processes without their init. */
	int fd = coord_connect(o.coord, o.ckpt_dir);
	if (fd < 0)
		init_say("cannot join the coordinator at %s (%s): checkpoints of this computation will fail",
			 o.coord, strerror(-fd));
	pid_t main_pid;
	if (o.restart) {
		tree_restore(&plan, &o);
		main_pid = plan.main;
	} else {
		main_pid = init_clone_pid(0);
		if (main_pid < 0)
			init_die("cannot start %s: %s", o.argv[0], strerror(-main_pid));
		if (main_pid == 0) {
			setpgid(0, 0);
			sigprocmask(SIG_SETMASK, &orig, 0);
			if (o.preload)
				setenv("LD_PRELOAD", o.preload, 1);
			execvp(o.argv[0], o.argv);
			init_die("cannot run %s: %s — check the program name and PATH", o.argv[0],
				 errno == ENOENT ? "no such program" : errno == EACCES ? "permission denied" : strerror(errno));
		}
	}
	init_serve(main_pid, fd);
}
