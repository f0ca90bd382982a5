/* SPDX-License-Identifier: MIT */
/* The push thread against the recording receiver (tests/helpers/http_recorder):
 * answers, order, errors by kind, timeouts, Retry-After, clients. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "push.h"
#include "helpers/path.h"
#include "test.h"

static char dir[] = "/tmp/test_push.XXXXXX";
static pid_t recorder = -1;
static unsigned port;

struct outcome {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct push_result r[8];
};

static struct outcome out = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void on_done(void *arg, const struct push_result *r)
{
	(void)arg;
	pthread_mutex_lock(&out.lock);
	if (out.n < 8)
		out.r[out.n] = *r;
	out.r[out.n].body = NULL;
	out.n++;
	pthread_cond_broadcast(&out.cond);
	pthread_mutex_unlock(&out.lock);
}

/* Waits (bounded: 20 s) until n requests have ended. */
static bool wait_done(int n)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&out.lock);
	while (out.n < n && ok)
		ok = pthread_cond_timedwait(&out.cond, &out.lock, &until) == 0;
	pthread_mutex_unlock(&out.lock);
	return out.n >= n;
}

static void start_recorder(void)
{
	char exe[4096], pf[4200], *txt = NULL;

	if (test_helper_path("http_recorder", exe, sizeof(exe)) < 0)
		return; /* port stays 0: test_requests' REQUIRE says so */
	snprintf(pf, sizeof(pf), "%s/port", dir);
	unlink(pf);
	recorder = fork();
	if (recorder == 0) {
		char p[16];

		snprintf(p, sizeof(p), "%u", port);
		execl(exe, exe, dir, p, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 2000 && !(txt = test_slurp(pf, NULL)); i++)
		usleep(10000); /* polling for the port file, bounded */
	if (txt)
		port = (unsigned)atoi(txt);
	free(txt);
}

static void stop_recorder(void)
{
	if (recorder > 0) {
		kill(recorder, SIGKILL);
		waitpid(recorder, NULL, 0);
	}
	recorder = -1;
}

static int submit(struct push *p, const char *path, const char *body, unsigned timeout_ms)
{
	char url[256];
	struct push_request rq = { .method = "POST", .url = url, .timeout_ms = timeout_ms,
				   .body = strdup(body), .body_len = strlen(body), .done = on_done };

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	return push_submit(p, &rq);
}

static void set_mode(struct push *p, const char *mode)
{
	char path[64];
	int n = out.n;

	snprintf(path, sizeof(path), "/_mode/%s", mode);
	submit(p, path, "", 0);
	wait_done(n + 1);
}

static int runs;
static uint64_t count_runs(void *arg, uint64_t now)
{
	(void)arg;
	(void)now;
	__atomic_add_fetch(&runs, 1, __ATOMIC_RELAXED);
	return UINT64_MAX;
}

static void test_requests(void)
{
	struct push *p;
	char path[4200], *bodies;

	REQUIRE(push_new(&p) == 0);
	REQUIRE(port != 0);
	CHECK_EQ(push_client_add(p, count_runs, NULL), 0);
	out.n = 0;
	CHECK_EQ(submit(p, "/a", "first", 0), 0);
	CHECK_EQ(submit(p, "/a", "second", 0), 0);
	CHECK_EQ(submit(p, "/a", "third", 0), 0);
	REQUIRE(wait_done(3));
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(out.r[i].error, 0);
		CHECK_EQ(out.r[i].status, 204);
		CHECK(push_result_reason(&out.r[i]) == NULL);
	}
	snprintf(path, sizeof(path), "%s/bodies", dir);
	bodies = test_slurp(path, NULL);
	REQUIRE(bodies);
	/* Submitted from one thread, they went out in order over one connection. */
	CHECK_STR(bodies, "first\nsecond\nthird\n");
	free(bodies);
	CHECK(__atomic_load_n(&runs, __ATOMIC_RELAXED) > 0);
	push_client_remove(p, count_runs, NULL);

	/* A bearer token as long as the sinks allow (TOKEN_MAX_BYTES in
	 * exporters/sinks.c, 4096; service account tokens run past 1 KiB) is
	 * sent whole. */
	{
		static char token[4096 + 1], want[4096 + 64];
		char url[64], *hdrs;
		struct push_request rq = { .method = "POST", .url = url, .body = strdup("t"), .body_len = 1,
					   .bearer_token = token, .done = on_done };

		memset(token, 'k', sizeof(token) - 1);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/t", port);
		CHECK_EQ(push_submit(p, &rq), 0);
		REQUIRE(wait_done(4));
		CHECK_EQ(out.r[3].status, 204);
		snprintf(path, sizeof(path), "%s/headers", dir);
		hdrs = test_slurp(path, NULL);
		REQUIRE(hdrs);
		snprintf(want, sizeof(want), "Authorization: Bearer %s\r\n", token);
		CHECK(strstr(hdrs, want) != NULL);
		free(hdrs);
	}

	out.n = 0;
	set_mode(p, "500");
	CHECK_EQ(submit(p, "/a", "x", 0), 0);
	REQUIRE(wait_done(2));
	CHECK_EQ(out.r[1].status, 500);
	CHECK_STR(push_result_reason(&out.r[1]), "http_5xx");

	set_mode(p, "429");
	CHECK_EQ(submit(p, "/a", "x", 0), 0);
	REQUIRE(wait_done(4));
	CHECK_EQ(out.r[3].status, 429);
	CHECK_EQ(out.r[3].retry_after_s, 1);
	CHECK_STR(push_result_reason(&out.r[3]), "http_429");

	set_mode(p, "hang");
	CHECK_EQ(submit(p, "/a", "x", 300), 0);
	REQUIRE(wait_done(6));
	CHECK_EQ(out.r[5].error, -ETIMEDOUT);
	CHECK_STR(push_result_reason(&out.r[5]), "timeout");

	stop_recorder();
	CHECK_EQ(submit(p, "/a", "x", 2000), 0);
	REQUIRE(wait_done(7));
	CHECK_EQ(out.r[6].error, -ECONNREFUSED);
	CHECK_EQ(push_in_flight(p), 0);
	push_free(p, 0);
}

/* A request still in flight when the thread stops ends with -ECANCELED. */
static void test_stop_cancels(void)
{
	struct push *p;

	start_recorder();
	REQUIRE(port != 0);
	REQUIRE(push_new(&p) == 0);
	out.n = 0;
	set_mode(p, "hang");
	CHECK_EQ(submit(p, "/a", "x", 60000), 0);
	push_free(p, 50);
	REQUIRE(wait_done(2));
	CHECK_EQ(out.r[1].error, -ECANCELED);
	stop_recorder();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	start_recorder();
	RUN(test_requests);
	RUN(test_stop_cancels);
	stop_recorder();
	test_rm_rf(dir);
	return test_done();
}
