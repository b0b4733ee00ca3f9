/* probe reports, one fact per line, what a process preloaded with
 * one-shot-token sees. Usage: probe [-s] NAME... (-s: use secure_getenv). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int in_environ(const char *name)
{
	size_t n = strlen(name);
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return 1;
	return 0;
}

/* in_proc: does /proc/self/environ contain needle (as bytes)? */
static int in_proc(const char *needle)
{
	static char buf[1 << 20];
	FILE *f = fopen("/proc/self/environ", "rb");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	size_t k = strlen(needle);
	for (size_t i = 0; k && i + k <= n; i++)
		if (memcmp(buf + i, needle, k) == 0)
			return 1;
	return 0;
}

static int in_child(const char *name)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "env | grep -c '^%s=' || true", name);
	FILE *p = popen(cmd, "r");
	int c = -1;
	if (p) {
		if (fscanf(p, "%d", &c) != 1)
			c = -1;
		pclose(p);
	}
	return c;
}

static const char *thread_name;
static void *worker(void *arg)
{
	(void)arg;
	return getenv(thread_name);
}

int main(int argc, char **argv)
{
	int secure = 0;
	int i = 1;
	if (i < argc && strcmp(argv[i], "-s") == 0) {
		secure = 1;
		i++;
	}
	/* -p NAME=VALUE: the program itself sets a variable before reading it
	 * (a heap string, outside the kernel's block, must not be wiped). */
	while (i + 1 < argc && strcmp(argv[i], "-p") == 0) {
		char *eq = strchr(argv[i + 1], '=');
		if (eq) {
			*eq = 0;
			setenv(argv[i + 1], eq + 1, 1);
		}
		i += 2;
	}
	for (; i < argc; i++) {
		const char *name = argv[i];
		char before[4096] = "";
		/* what the kernel block held before any read */
		snprintf(before, sizeof before, "%s=", name);
		int proc_name_before = in_proc(before);
		char *a = secure ? secure_getenv(name) : getenv(name);
		char *b = secure ? secure_getenv(name) : getenv(name);
		printf("%s.first=%s\n", name, a ? a : "(null)");
		printf("%s.second=%s\n", name, b ? b : "(null)");
		printf("%s.same_pointer=%d\n", name, a == b);
		printf("%s.in_environ=%d\n", name, in_environ(name));
		printf("%s.proc_name_before=%d\n", name, proc_name_before);
		printf("%s.proc_name_after=%d\n", name, in_proc(before));
		printf("%s.proc_value_after=%d\n", name, a && *a ? in_proc(a) : 0);
		printf("%s.child=%d\n", name, in_child(name));
	}
	/* Threads racing on a fresh name given by PROBE_THREADS. */
	thread_name = getenv("PROBE_THREADS_NAME");
	if (thread_name) {
		enum { N = 16 };
		pthread_t t[N];
		void *r[N];
		for (int j = 0; j < N; j++)
			pthread_create(&t[j], NULL, worker, NULL);
		for (int j = 0; j < N; j++)
			pthread_join(t[j], &r[j]);
		int same = 1;
		for (int j = 1; j < N; j++)
			same = same && r[j] == r[0];
		printf("threads.same=%d\n", same);
		printf("threads.value=%s\n", r[0] ? (char *)r[0] : "(null)");
	}
	return 0;
}
