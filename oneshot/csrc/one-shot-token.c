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
 * Allocator safety. Allocators read their settings through getenv while
 * they initialise (jemalloc: MALLOC_CONF via secure_getenv, holding its
 * init lock), so this getenv may run before malloc works and must never
 * call back into it. Hence, on every path:
 *  - no dlsym: getenv is a plain scan of `environ` (all glibc's does), and
 *    secure_getenv is that scan unless AT_SECURE. dlsym allocates (dlerror
 *    state) and takes the loader lock: that deadlocked every jemalloc
 *    program at start;
 *  - no malloc/strdup: names live in a static table, token copies in a
 *    static arena, overflowing into mmap'd pages;
 *  - no pthread_once and no __thread (TLS of a loaded library may be
 *    allocated lazily), only a static mutex, which never allocates;
 *  - no stdio or strto*: /proc/self/stat is read with read(2) and parsed
 *    by hand.
 * Static binaries ignore LD_PRELOAD; they are simply not covered.
 *
 * Limits: programs that read `environ` directly (Node, Go, bash) bypass
 * getenv; the kernel block is wiped only by a process that calls getenv.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))
#define MAX_TOKENS 100
#define MAX_NAME 255
#define OBF 0x5A
#define ARENA 16384

extern char **environ;

static char names[MAX_TOKENS][MAX_NAME + 1];
static char *cache[MAX_TOKENS];
static unsigned char done[MAX_TOKENS];
static int ntokens;
static int debug;
static int ready; /* read and written with __atomic builtins */
static uintptr_t env_lo, env_hi; /* the kernel's environment block */
static int env_known;

static char arena[ARENA];
static size_t arena_used;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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

/* scan is getenv itself: a walk over environ, allocation-free. */
static char *scan(const char *name)
{
	size_t n = strlen(name);
	char **e = environ;
	if (!e || n == 0)
		return NULL;
	for (; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
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

/* keep copies s into memory that stays valid for the process's life,
 * without the allocator: the static arena, else fresh anonymous pages. */
static char *keep(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;
	if (n <= ARENA - arena_used) {
		d = arena + arena_used;
		arena_used += n;
	} else {
		void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		d = p;
	}
	memcpy(d, s, n);
	return d;
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
		unsigned long long x = 0;
		for (; *p >= '0' && *p <= '9'; p++)
			x = x * 10 + (unsigned long long)(*p - '0');
		if (field >= 50)
			v[field - 50] = x;
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
	memcpy(names[ntokens], s, n);
	names[ntokens][n] = 0;
	ntokens++;
}

/* init reads the configuration from environ. Called with lock held. */
static void init(void)
{
	const char *dbg = scan(debug_var);
	debug = dbg && (strcmp(dbg, "1") == 0 || strcmp(dbg, "true") == 0);

	const char *list = scan(list_var);
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
}

static void ensure_init(void)
{
	if (__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&lock);
	if (!ready) {
		init();
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
}

/* Reading the list early keeps later setenv() calls from changing it. */
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
 * (also when the program had replaced the variable since it started).
 * Called with lock held. */
static void take(const char *name)
{
	size_t n = strlen(name);
	unsetenv(name); /* glibc's never allocates */
	if (!env_known) {
		env_block();
		env_known = 1;
	}
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
	char *r;
	if (done[idx]) {
		r = cache[idx];
	} else {
		int saved = errno;
		r = scan(name);
		char *copy = r ? keep(r) : NULL;
		if (copy) {
			cache[idx] = r = copy;
			take(name);
			say(name, ": read once, cached and removed from the environment", NULL);
			done[idx] = 1;
		} else if (!r) {
			say(name, ": not set", NULL);
			done[idx] = 1;
		} /* else no memory for a copy: leave the variable in place */
		errno = saved;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

API char *getenv(const char *name)
{
	ensure_init();
	int idx = find(name);
	return idx < 0 ? scan(name) : intercept(idx, name);
}

API char *secure_getenv(const char *name)
{
	if (getauxval(AT_SECURE))
		return NULL;
	return getenv(name);
}
