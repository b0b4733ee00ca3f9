/*
 * one-shot-token: an LD_PRELOAD library that lets a process read each
 * protected token from its environment once, then removes it.
 *
 * The first getenv()/secure_getenv() of a listed name copies the value,
 * wipes the bytes of the original "NAME=value" string where the kernel's
 * initial environment block holds them (so /proc/<pid>/environ no longer
 * shows the token), unsetenv()s it (so children do not inherit it) and
 * returns the copy. Later calls return the same copy (or NULL if the
 * variable was not set at the first call).
 *
 * Names come from AWF_ONE_SHOT_TOKENS (comma-separated, trimmed, at most
 * MAX_TOKENS) or, when that is unset or empty, from built-in defaults kept
 * XOR-obfuscated so `strings` on the library does not list them.
 * AWF_ONE_SHOT_TOKEN_DEBUG=1|true logs names (never values) to stderr.
 *
 * Limits: programs that read `environ` directly (Node, Go, bash) bypass
 * getenv; the kernel block is wiped only by a process that calls getenv.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))
#define MAX_TOKENS 100
#define MAX_NAME 255
#define OBF 0x5A

extern char **environ;

typedef char *(*getenv_fn)(const char *);

static getenv_fn real_getenv;
static getenv_fn real_secure_getenv;

static char *names[MAX_TOKENS];
static char *cache[MAX_TOKENS];
static unsigned char done[MAX_TOKENS];
static int ntokens;
static int debug;
static volatile int ready;
static uintptr_t env_lo, env_hi; /* the kernel's environment block */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int in_hook __attribute__((tls_model("initial-exec"))); /* set while inside the library: recursion goes straight through */

struct obf {
	unsigned char len;
	unsigned char b[24];
};

/* The defaults, XOR 0x5A: the awf token list. */
static const struct obf defaults[] = {
	{20, {0x19,0x15,0x0a,0x13,0x16,0x15,0x0e,0x05,0x1d,0x13,0x0e,0x12,0x0f,0x18,0x05,0x0e,0x15,0x11,0x1f,0x14}}, /* COPILOT_GITHUB_TOKEN */
	{12, {0x1d,0x13,0x0e,0x12,0x0f,0x18,0x05,0x0e,0x15,0x11,0x1f,0x14}}, /* GITHUB_TOKEN */
	{8, {0x1d,0x12,0x05,0x0e,0x15,0x11,0x1f,0x14}}, /* GH_TOKEN */
	{16, {0x1d,0x13,0x0e,0x12,0x0f,0x18,0x05,0x1b,0x0a,0x13,0x05,0x0e,0x15,0x11,0x1f,0x14}}, /* GITHUB_API_TOKEN */
	{10, {0x1d,0x13,0x0e,0x12,0x0f,0x18,0x05,0x0a,0x1b,0x0e}}, /* GITHUB_PAT */
	{15, {0x1d,0x12,0x05,0x1b,0x19,0x19,0x1f,0x09,0x09,0x05,0x0e,0x15,0x11,0x1f,0x14}}, /* GH_ACCESS_TOKEN */
	{14, {0x15,0x0a,0x1f,0x14,0x1b,0x13,0x05,0x1b,0x0a,0x13,0x05,0x11,0x1f,0x03}}, /* OPENAI_API_KEY */
	{10, {0x15,0x0a,0x1f,0x14,0x1b,0x13,0x05,0x11,0x1f,0x03}}, /* OPENAI_KEY */
	{17, {0x1b,0x14,0x0e,0x12,0x08,0x15,0x0a,0x13,0x19,0x05,0x1b,0x0a,0x13,0x05,0x11,0x1f,0x03}}, /* ANTHROPIC_API_KEY */
	{14, {0x19,0x16,0x1b,0x0f,0x1e,0x1f,0x05,0x1b,0x0a,0x13,0x05,0x11,0x1f,0x03}}, /* CLAUDE_API_KEY */
	{13, {0x19,0x15,0x1e,0x1f,0x02,0x05,0x1b,0x0a,0x13,0x05,0x11,0x1f,0x03}}, /* CODEX_API_KEY */
	{15, {0x19,0x15,0x0a,0x13,0x16,0x15,0x0e,0x05,0x1b,0x0a,0x13,0x05,0x11,0x1f,0x03}}, /* COPILOT_API_KEY */
	{24, {0x19,0x15,0x0a,0x13,0x16,0x15,0x0e,0x05,0x0a,0x08,0x15,0x0c,0x13,0x1e,0x1f,0x08,0x05,0x1b,0x0a,0x13,0x05,0x11,0x1f,0x03}}, /* COPILOT_PROVIDER_API_KEY */
};

static const char list_var[] = "AWF_ONE_SHOT_TOKENS";
static const char debug_var[] = "AWF_ONE_SHOT_TOKEN_DEBUG";

/* scan reads environ directly: used before the real getenv is known. */
static char *scan(const char *name)
{
	size_t n = strlen(name);
	if (!environ)
		return NULL;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static char *call_getenv(const char *name)
{
	return real_getenv ? real_getenv(name) : scan(name);
}

static void say(const char *a, const char *b, const char *c)
{
	if (!debug)
		return;
	const char *parts[] = {"[one-shot-token] ", a, b, c, "\n"};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (parts[i] && write(2, parts[i], strlen(parts[i])) < 0)
			return;
}

/* env_block finds [env_start, env_end) in /proc/self/stat (fields 50, 51). */
static void env_block(void)
{
	char buf[4096];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return;
	p++; /* now before field 3 */
	unsigned long long v[2] = {0, 0};
	for (int field = 3; field <= 51 && *p; field++) {
		while (*p == ' ')
			p++;
		char *end;
		unsigned long long x = strtoull(p, &end, 10);
		if (field >= 50)
			v[field - 50] = x;
		p = end;
		while (*p && *p != ' ')
			p++;
	}
	if (v[0] && v[1] > v[0]) {
		env_lo = (uintptr_t)v[0];
		env_hi = (uintptr_t)v[1];
	}
}

static void add_name(const char *s, size_t n)
{
	if (n == 0 || n > MAX_NAME || ntokens >= MAX_TOKENS)
		return;
	if ((n == sizeof list_var - 1 && memcmp(s, list_var, n) == 0) ||
	    (n == sizeof debug_var - 1 && memcmp(s, debug_var, n) == 0))
		return;
	char *d = malloc(n + 1);
	if (!d)
		return;
	memcpy(d, s, n);
	d[n] = 0;
	names[ntokens++] = d;
}

static void init(void)
{
	real_getenv = (getenv_fn)dlsym(RTLD_NEXT, "getenv");
	real_secure_getenv = (getenv_fn)dlsym(RTLD_NEXT, "secure_getenv");
	const char *dbg = call_getenv(debug_var);
	debug = dbg && (strcmp(dbg, "1") == 0 || strcmp(dbg, "true") == 0);
	env_block();

	const char *list = call_getenv(list_var);
	if (list) {
		const char *p = list;
		while (*p && ntokens < MAX_TOKENS) {
			const char *start = p;
			while (*p && *p != ',')
				p++;
			const char *end = p;
			while (start < end && (*start == ' ' || *start == '\t'))
				start++;
			while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			add_name(start, (size_t)(end - start));
			if (*p == ',')
				p++;
		}
	}
	const char *source = list_var;
	if (ntokens == 0) {
		source = "built-in defaults";
		for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
			char tmp[MAX_NAME + 1];
			size_t n = defaults[i].len;
			for (size_t j = 0; j < n; j++)
				tmp[j] = (char)(defaults[i].b[j] ^ OBF);
			tmp[n] = 0;
			add_name(tmp, n);
		}
	}
	say("protecting tokens from ", source, NULL);
	ready = 1;
}

static void ensure_init(void)
{
	in_hook = 1;
	pthread_once(&once, init);
	in_hook = 0;
}

__attribute__((constructor)) static void ctor(void) { ensure_init(); }

static int find(const char *name)
{
	for (int i = 0; i < ntokens; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* take removes NAME from the environment and wipes every NAME=... string
 * in the kernel's initial block, so /proc/<pid>/environ stops showing it
 * (also when the program had replaced the variable since it started). */
static void take(const char *name)
{
	size_t n = strlen(name);
	unsetenv(name);
	int wiped = 0;
	for (char *p = (char *)env_lo; env_hi && (uintptr_t)p < env_hi;) {
		size_t len = strnlen(p, env_hi - (uintptr_t)p);
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			memset(p, 0, len);
			wiped = 1;
		}
		p += len + 1;
	}
	if (wiped)
		say(name, ": wiped from the process's initial environment", NULL);
}

static char *intercept(int idx, const char *name)
{
	pthread_mutex_lock(&lock);
	if (!done[idx]) {
		int saved = errno;
		char *v = call_getenv(name);
		if (v) {
			cache[idx] = strdup(v);
			take(name);
			say(name, ": read once, cached and removed from the environment", NULL);
		} else {
			say(name, ": not set", NULL);
		}
		done[idx] = 1;
		errno = saved;
	}
	char *r = cache[idx];
	pthread_mutex_unlock(&lock);
	return r;
}

API char *getenv(const char *name)
{
	if (in_hook)
		return call_getenv(name);
	if (!ready)
		ensure_init();
	int idx = find(name);
	if (idx < 0)
		return call_getenv(name);
	in_hook = 1;
	char *r = intercept(idx, name);
	in_hook = 0;
	return r;
}

API char *secure_getenv(const char *name)
{
	if (in_hook || getauxval(AT_SECURE))
		return real_secure_getenv ? real_secure_getenv(name) : (getauxval(AT_SECURE) ? NULL : call_getenv(name));
	if (!ready)
		ensure_init();
	int idx = find(name);
	if (idx < 0)
		return real_secure_getenv ? real_secure_getenv(name) : call_getenv(name);
	in_hook = 1;
	char *r = intercept(idx, name);
	in_hook = 0;
	return r;
}
