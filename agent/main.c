/* SPDX-License-Identifier: MIT */
/* memagent: command line, start-up, and the event loop (timer, signals). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <sysexits.h>
#include <unistd.h>

#include "alerting.h"
#include "bpf_support.h"
#include "config.h"
#include "heapdump.h"
#include "httpd.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "probe.h"
#include "promtext.h"
#include "registry.h"
#include "push.h"
#include "sampler.h"
#include "sinks.h"
#include "strbuf.h"

/* A numeric macro as a string literal, for the usage text. */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

struct options {
	const char *config_path;
	const char *listen;      /* overrides the config's */
	unsigned interval_ms;    /* overrides the config's when non-zero */
	bool once;
	bool no_bpf;
	bool verbose;
	const char *proc_root;
	const char *cgroup_root;
	int heap_snapshot_pid;   /* --heap-snapshot PID: ask, print the path, exit */
};

static void usage(FILE *f)
{
	fputs("Usage: memagent [OPTIONS]\n"
	      "       memagent --check-config FILE\n"
	      "\n"
	      "Samples process and system memory and serves it to Prometheus.\n"
	      "\n"
	      "  -c, --config FILE        JSON configuration (default: the embedded default:\n"
	      "                           host memory and PSI, processes grouped by comm)\n"
	      "  -l, --listen ADDR:PORT   where to serve /metrics (default " CONFIG_LISTEN_DEFAULT ")\n"
	      "  -i, --interval MS        sampling interval in milliseconds (default "
	      STRINGIFY(CONFIG_INTERVAL_DEFAULT_MS) ")\n"
	      "      --once               take one sample, print it in Prometheus text format, exit\n"
	      "      --no-bpf             use /proc readers only, never load BPF programs\n"
	      "      --check-config FILE  validate FILE: exit 0 when valid, 78 when not\n"
	      "      --print-default-config  print the embedded default configuration\n"
	      "      --probe              say which BPF features work here, and why not\n"
	      "      --heap-snapshot PID  ask an instrumented app for a heap snapshot, print its path\n"
	      "      --proc-root DIR      read procfs from DIR (default /proc; for tests)\n"
	      "      --cgroup-root DIR    read cgroupfs from DIR (default /sys/fs/cgroup)\n"
	      "  -v, --verbose            log debug lines\n"
	      "  -h, --help               this text\n"
	      "  -V, --version            the version\n"
	      "\n"
	      "Signals: SIGUSR1 samples now, SIGHUP reloads the configuration (an invalid\n"
	      "one is reported and the running one kept), SIGTERM/SIGINT stop.\n"
	      "Exit status: 0 success, 64 usage error, 78 invalid configuration, 1 other failure.\n",
	      f);
}

/* Loads the configuration and applies command-line overrides. */
static int load_config(const struct options *o, struct config **ret)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c;
	int r;

	r = o->config_path ? config_load(o->config_path, &c, err) : config_default(&c, err);
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	if (o->listen) {
		char *l = strdup(o->listen);

		if (!l) {
			config_free(c);
			return -ENOMEM;
		}
		free(c->listen);
		c->listen = l;
	}
	if (o->interval_ms)
		c->interval_ms = o->interval_ms;
	*ret = c;
	return 0;
}

static int run_once(const struct options *o)
{
	struct sampler_options so = { o->proc_root, o->cgroup_root, !o->no_bpf };
	struct registry *reg = registry_new();
	struct sampler *s = NULL;
	struct config *cfg = NULL;
	struct strbuf out = {0};
	struct snapshot *snap;
	int ret = EXIT_FAILURE;

	if (!reg)
		return EXIT_FAILURE;
	if (load_config(o, &cfg) < 0) {
		registry_free(reg);
		return EX_CONFIG;
	}
	if (sampler_new(cfg, &so, reg, &s) == 0 && (snap = sampler_tick(s))) {
		promtext_render(snap, PROMTEXT_TEXT, &out);
		if (!strbuf_failed(&out) && fwrite(out.buf, 1, out.len, stdout) == out.len &&
		    fflush(stdout) == 0)
			ret = EXIT_SUCCESS;
	}
	strbuf_done(&out);
	sampler_free(s);
	registry_free(reg);
	config_free(cfg);
	return ret;
}

/* Adds the collectors' event fds (BPF ring buffers) to the epoll set; after
 * a reload the collectors have new ones (the old ones left the set when
 * they were closed). */
static void watch_collectors(int efd, const struct sampler *s)
{
	for (int i = 0; i < sampler_n_fds(s); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
		int fd = sampler_fd(s, i);

		if (fd >= 0 && epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
			log_warning("cannot watch collector events: %s", strerror(errno));
	}
}

static int arm_timer(int tfd, unsigned interval_ms)
{
	struct itimerspec its = {
		.it_interval = { interval_ms / 1000, (long)(interval_ms % 1000) * 1000000 },
		.it_value = { interval_ms / 1000, (long)(interval_ms % 1000) * 1000000 },
	};

	return timerfd_settime(tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* How long SIGTERM waits for the sinks' queues to be sent (disk-buffered
 * sinks keep the rest on disk). */
#define SINKS_FLUSH_DEADLINE_MS 5000

/* A test hook, off unless $MEMAGENT_TEST_STALL names a file: while that
 * file exists a tick does not return, as a sampling loop stuck in a read
 * would not (tests/it_notify.sh, the watchdog test of tests/it_service.sh).
 * The HTTP thread keeps serving meanwhile. */
static const char *stall_path;

static void stall_while_asked(void)
{
	const struct timespec step = { 0, 100 * 1000000L };

	if (!stall_path || access(stall_path, F_OK) != 0)
		return;
	log_notice("test hook: sampling loop stalled while %s exists", stall_path);
	while (access(stall_path, F_OK) == 0)
		nanosleep(&step, NULL);
	log_notice("test hook: sampling loop resumed");
}

static void tick(struct sampler *s, struct httpd *h, struct sinks *sk, struct alerting *al)
{
	struct snapshot *snap;

	stall_while_asked();
	snap = sampler_tick(s);

	if (!snap) {
		log_error("sample failed: out of memory");
		return;
	}
	httpd_warm(h, snap);
	sinks_offer(sk, snap);
	if (alerting_eval(al, snap) < 0)
		log_error("alert evaluation failed: out of memory");
}

/* What the sampler adds to every snapshot besides its own: the sinks' and
 * alerting's metrics (alerting is replaced on reload). */
struct extra {
	struct sinks *sk;
	struct alerting *al;
};

static int extra_metrics_cb(void *arg, struct snapshot *snap)
{
	struct extra *x = arg;
	int r = sinks_add_metrics(x->sk, snap);

	return alerting_add_metrics(x->al, snap) < 0 ? -ENOMEM : r;
}

/* Starts serving on listen with cfg's HTTP limits and web (TLS, users). */
static int serve(const struct config *cfg, const char *listen, struct registry *reg, struct web *web,
		 struct httpd **ret, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const struct config_limits *l = &cfg->limits;
	struct httpd_options ho = {
		&ss, 0, l->http_connections, l->http_timeout_s,
		l->http_connections_per_address < l->http_connections ? l->http_connections_per_address
								      : l->http_connections,
		l->http_header_timeout_s, web,
	};
	int r = listen_parse(listen, &ss, &sl, err, errlen);

	if (r < 0)
		return r;
	ho.addr_len = sl;
	return httpd_start(&ho, reg, ret, err, errlen);
}

static unsigned port_of(const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (listen_parse(listen, &ss, &sl, NULL, 0) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)&ss)->sin6_port
					      : ((const struct sockaddr_in *)&ss)->sin_port);
}

static bool http_changed(const struct config *a, const struct config *b)
{
	return strcmp(a->listen, b->listen) != 0 ||
	       a->limits.http_connections != b->limits.http_connections ||
	       a->limits.http_timeout_s != b->limits.http_timeout_s ||
	       a->limits.http_connections_per_address != b->limits.http_connections_per_address ||
	       a->limits.http_header_timeout_s != b->limits.http_header_timeout_s;
}

/* Starts the server next asks for, in *nh. The new one is bound while the
 * old one still serves, so a failure changes nothing; only an address that
 * overlaps the old one (same port, 127.0.0.1 -> 0.0.0.0) cannot be bound
 * beside it: then the old server stops first and, should the new address
 * still fail, comes back on its address. Returns 0, or a negative errno
 * with *h still serving (or NULL if even the old address could not be
 * bound again: the caller stops). */
static int reserve(const struct config *cur, const struct config *next, struct httpd **h, struct registry *reg,
		   struct web *web, struct httpd **nh, char *err, size_t errlen)
{
	char old[64];
	const char *listen;
	struct web *cur_web = web_ref(httpd_web(*h));
	int r;

	/* A copy: *h may be freed below. An unchanged listen keeps the port
	 * it got (port 0 picks once). */
	snprintf(old, sizeof(old), "%s", httpd_address(*h));
	listen = strcmp(next->listen, cur->listen) == 0 ? old : next->listen;
	r = serve(next, listen, reg, web, nh, err, errlen);
	if (r != -EADDRINUSE || port_of(listen) != port_of(old)) {
		web_unref(cur_web);
		return r;
	}
	*h = httpd_free(*h);
	r = serve(next, listen, reg, web, nh, err, errlen);
	if (r < 0) {
		char again[256];

		if (serve(cur, old, reg, cur_web, h, again, sizeof(again)) < 0)
			log_error("cannot serve on %s again: %s", old, again);
	}
	web_unref(cur_web);
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The line `systemctl status` shows: what is served and from what. */
static void tell_status(const struct notify *n, const struct config *cfg, const struct httpd *h,
			const char *prefix)
{
	char st[384];

	snprintf(st, sizeof(st), "%sserving %s://%s/metrics: %zu target%s every %u ms (%s)", prefix,
		 httpd_scheme(h), httpd_address(h), cfg->targets.n, cfg->targets.n == 1 ? "" : "s", cfg->interval_ms,
		 cfg->source);
	notify_ready(n, st);
}

/* Reloads the configuration file. Everything that can fail (parsing,
 * binding a new address) happens before anything changes, so a failure
 * leaves the running configuration and server untouched. Returns 0 when
 * reloaded, 1 when the running configuration was kept, or -EADDRNOTAVAIL
 * when the agent no longer serves at all. */
static int reload(const struct options *o, struct config **cfg, struct sampler *s,
		  struct httpd **h, struct registry *reg, struct sinks *sk, struct push *push,
		  struct extra *x, int tfd, int efd)
{
	struct config *next;
	struct httpd *nh = NULL;
	struct web *web;
	struct alerting *nal = NULL;
	struct sinks_change *sc;
	char err[256];

	if (load_config(o, &next) < 0) {
		log_error("reload failed; keeping the running configuration");
		sampler_note_reload(s, false);
		return 1;
	}
	/* Certificates and keys are read again on every reload. */
	if (web_new(&next->web, &web, err, sizeof(err)) < 0) {
		log_error("reload failed: web: %s; keeping the running configuration", err);
		config_free(next);
		sampler_note_reload(s, false);
		return 1;
	}
	if (alerting_new(next, push, &nal, err, sizeof(err)) < 0) {
		log_error("reload failed: %s; keeping the running configuration", err);
		web_unref(web);
		config_free(next);
		sampler_note_reload(s, false);
		return 1;
	}
	/* Sinks of the same name and type keep their queues. Prepared before
	 * the server is reserved: reserve() may have stopped the old server
	 * when it returns, and nothing after it may fail. */
	if (sinks_prepare(sk, next->sinks, next->n_sinks, &sc, err, sizeof(err)) < 0) {
		log_error("reload failed: %s; keeping the running configuration", err);
		web_unref(web);
		alerting_free(nal);
		config_free(next);
		sampler_note_reload(s, false);
		return 1;
	}
	if ((http_changed(*cfg, next) || !httpd_takes_web(*h, web)) &&
	    reserve(*cfg, next, h, reg, web, &nh, err, sizeof(err)) < 0) {
		log_error("reload failed: %s; keeping the running configuration", err);
		sinks_change_free(sk, sc);
		web_unref(web);
		alerting_free(nal);
		config_free(next);
		sampler_note_reload(s, false);
		return *h ? 1 : -EADDRNOTAVAIL;
	}
	sinks_commit(sk, sc);
	sampler_reconfigure(s, next);
	/* Alert state starts afresh with the new rules (docs/alerts.md). */
	alerting_free(x->al);
	x->al = nal;
	watch_collectors(efd, s);
	if (nh) {
		httpd_free(*h);
		*h = nh;
		log_notice("serving %s://%s/metrics", httpd_scheme(nh), httpd_address(nh));
	} else {
		httpd_set_web(*h, web);
	}
	web_unref(web);
	if (next->interval_ms != (*cfg)->interval_ms)
		arm_timer(tfd, next->interval_ms);
	config_free(*cfg);
	*cfg = next;
	sampler_note_reload(s, true);
	log_notice("configuration reloaded from %s", next->source);
	return 0;
}

/* Lets the kept /proc descriptors scale with the host: the soft limit is
 * raised to the hard one (systemd's LimitNOFILE sets that). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run(const struct options *o)
{
	struct sampler_options so = { o->proc_root, o->cgroup_root, !o->no_bpf };
	struct registry *reg = NULL;
	struct sampler *s = NULL;
	struct httpd *h = NULL;
	struct web *web = NULL;
	struct config *cfg = NULL;
	struct push *push = NULL;
	struct sinks *sk = NULL;
	struct extra x = { NULL, NULL };
	int sfd = -1, tfd = -1, efd = -1, ret = EXIT_FAILURE, ping_ms, r;
	struct notify nt;
	uint64_t next_ping;
	sigset_t mask;
	char err[256];

	if (load_config(o, &cfg) < 0)
		return EX_CONFIG;
	raise_nofile();
	/* Before libmicrohttpd's thread starts: notify_init reads environ. */
	r = notify_init(&nt);
	if (r < 0)
		log_warning("NOTIFY_SOCKET unusable, the service manager will not hear from us: %s",
			    strerror(-r));
	stall_path = getenv("MEMAGENT_TEST_STALL");

	/* Signals are read from a signalfd; block them before libmicrohttpd
	 * starts its thread so that thread inherits the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	reg = registry_new();
	if (!reg)
		goto out;
	/* The push thread starts with the signals blocked too. */
	if (push_new(&push) < 0 || sinks_new(push, cfg->state_dir, &sk) < 0) {
		log_error("cannot start the push thread");
		goto out;
	}
	if (sinks_configure(sk, cfg->sinks, cfg->n_sinks, err, sizeof(err)) < 0) {
		log_error("%s", err);
		ret = EX_CONFIG;
		goto out;
	}

	if (web_new(&cfg->web, &web, err, sizeof(err)) < 0) {
		log_error("cannot serve: web: %s", err);
		ret = EX_CONFIG;
		goto out;
	}
	r = serve(cfg, cfg->listen, reg, web, &h, err, sizeof(err));
	web = web_unref(web);
	if (r < 0) {
		log_error("cannot serve: %s", err);
		goto out;
	}
	if (sampler_new(cfg, &so, reg, &s) < 0)
		goto out;
	if (alerting_new(cfg, push, &x.al, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	x.sk = sk;
	sampler_set_extra(s, extra_metrics_cb, &x);
	/* Loading BPF parsed the kernel's BTF several times: give the free
	 * heap pages back before the long run. */
	malloc_trim(0);

	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || efd < 0 || arm_timer(tfd, cfg->interval_ms) < 0) {
		log_error("event loop setup: %s", strerror(errno));
		goto out;
	}

	/* epoll data: -1 signals, -2 timer, i >= 0 collector fd i. */
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = (uint64_t)-1;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.u64 = (uint64_t)-2;
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	watch_collectors(efd, s);

	if (o->no_bpf && strcmp(o->proc_root, "/proc") == 0)
		log_notice("bpf disabled by --no-bpf: running on /proc alone");
	tick(s, h, sk, x.al);
	/* Serving, and ready, once the first sample is: /metrics answers 503
	 * before it, so a scrape after this line (or after `systemctl start`
	 * returns) sees numbers. */
	log_notice("memagent %s: configuration %s, interval %u ms, serving %s://%s/metrics",
		   MEMAGENT_VERSION, cfg->source, cfg->interval_ms, httpd_scheme(h), httpd_address(h));
	tell_status(&nt, cfg, h, "");

	/* The watchdog is pinged from this wait, whatever the sample interval
	 * (an hour is allowed): the wait never outlasts half the watchdog's
	 * period, and a tick that does not return stops the pings. */
	ping_ms = notify_watchdog_interval_ms(&nt);
	next_ping = now_ms();
	for (;;) {
		struct epoll_event evs[8];
		int timeout = -1, n;

		if (ping_ms > 0) {
			uint64_t now = now_ms();

			if (now >= next_ping) {
				notify_watchdog(&nt);
				next_ping = now + (uint64_t)ping_ms;
			}
			timeout = (int)(next_ping - now);
		}
		n = epoll_wait(efd, evs, 8, timeout);
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int k = 0; k < n; k++) {
			int64_t id = (int64_t)evs[k].data.u64;

			if (id == -2) {
				uint64_t expirations;

				if (read(tfd, &expirations, sizeof(expirations)) > 0)
					tick(s, h, sk, x.al);
			} else if (id == -1) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						sampler_rescan(s);
						tick(s, h, sk, x.al);
					} else if (si.ssi_signo == SIGHUP) {
						notify_reloading(&nt);
						r = reload(o, &cfg, s, &h, reg, sk, push, &x, tfd, efd);
						if (r < 0)
							goto out;
						tell_status(&nt, cfg, h,
							    r ? "reload failed, kept the running configuration; " : "");
					} else {
						notify_stopping(&nt);
						log_notice("stopping on signal %u", si.ssi_signo);
						ret = EXIT_SUCCESS;
						goto out;
					}
				}
			} else {
				sampler_poll(s, (int)id);
			}
		}
	}
out:
	notify_done(&nt);
	if (efd >= 0)
		close(efd);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	if (sk) {
		uint64_t left = sinks_flush(sk, ret == EXIT_SUCCESS ? SINKS_FLUSH_DEADLINE_MS : 0);

		if (left)
			log_warning("stopping with %llu samples not sent", (unsigned long long)left);
	}
	/* Alerting before the push thread: its posts in flight end there. */
	alerting_free(x.al);
	/* Requests still out end here (their callbacks use the sinks), then the sinks go. */
	push_free(push, 0);
	sinks_free(sk);
	httpd_free(h);
	sampler_free(s);
	registry_free(reg);
	config_free(cfg);
	return ret;
}

/* --probe: one line per BPF feature, available or not and why. Exit 0 when
 * everything is available, 1 otherwise (the agent still runs on /proc). */
static int probe(void)
{
	struct bpf_feature_status st[BPF_FEATURE_MAX];
	int n = probe_run(st);

	for (int f = 0; f < BPF_FEATURE_MAX; f++)
		printf("%-18s %-11s  %s\n", bpf_feature_name(f), st[f].available ? "available" : "unavailable",
		       st[f].why);
	return n == BPF_FEATURE_MAX ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int check_config(const char *path)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c;
	struct web *w;

	if (config_load(path, &c, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return EX_CONFIG;
	}
	/* The web's files are read as the server would: a certificate that
	 * does not parse, or a key that does not match it, fails here too. */
	if (web_new(&c->web, &w, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: web: %s\n", path, err);
		config_free(c);
		return EX_CONFIG;
	}
	web_unref(w);
	printf("%s: valid (%zu target%s)\n", path, c->targets.n, c->targets.n == 1 ? "" : "s");
	config_free(c);
	return EXIT_SUCCESS;
}

/* --heap-snapshot PID: the path on stdout, or why not on stderr. */
static int heap_snapshot(const struct options *o)
{
	char path[HEAPDUMP_PATH_BYTES];
	int r = heapdump_request(o->proc_root, o->heap_snapshot_pid, HEAPDUMP_TIMEOUT_MS, path, sizeof(path));

	if (r < 0) {
		fprintf(stderr, "memagent: --heap-snapshot %d: %s\n", o->heap_snapshot_pid, heapdump_strerror(r));
		return EXIT_FAILURE;
	}
	printf("%s\n", path);
	return EXIT_SUCCESS;
}

static int parse_interval(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < CONFIG_INTERVAL_MIN_MS || v > CONFIG_INTERVAL_MAX_MS)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_ONCE = 256, OPT_NO_BPF, OPT_CHECK, OPT_PRINT_DEFAULT, OPT_PROC_ROOT, OPT_CGROUP_ROOT,
	       OPT_PROBE, OPT_HEAP_SNAPSHOT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "no-bpf", no_argument, NULL, OPT_NO_BPF },
		{ "check-config", required_argument, NULL, OPT_CHECK },
		{ "print-default-config", no_argument, NULL, OPT_PRINT_DEFAULT },
		{ "probe", no_argument, NULL, OPT_PROBE },
		{ "heap-snapshot", required_argument, NULL, OPT_HEAP_SNAPSHOT },
		{ "proc-root", required_argument, NULL, OPT_PROC_ROOT },
		{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct options o = { .proc_root = "/proc", .cgroup_root = "/sys/fs/cgroup" };
	int c;

	/* A fixed mmap threshold: glibc's default one rises to the size of
	 * the largest block freed, and a refused BPF load frees a 16 MiB
	 * verifier log; the kernel BTF parsed for each later load (several
	 * MiB) then lands in the heap and stays there. Fixed, every block of
	 * 128 KiB or more goes back to the system when freed (measured in
	 * bench/RESULTS.md: RssAnon with a program refused). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);

	while ((c = getopt_long(argc, argv, "c:l:i:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case 'l': {
			char why[256];

			if (listen_parse(optarg, NULL, NULL, why, sizeof(why)) < 0) {
				fprintf(stderr, "memagent: --listen: %s\n", why);
				return EX_USAGE;
			}
			o.listen = optarg;
			break;
		}
		case 'i':
			if (parse_interval(optarg, &o.interval_ms) < 0) {
				fprintf(stderr, "memagent: --interval: '%s' is not a number of milliseconds in %u..%u\n",
					optarg, CONFIG_INTERVAL_MIN_MS, CONFIG_INTERVAL_MAX_MS);
				return EX_USAGE;
			}
			break;
		case OPT_ONCE:
			o.once = true;
			break;
		case OPT_NO_BPF:
			o.no_bpf = true;
			break;
		case OPT_CHECK:
			return check_config(optarg);
		case OPT_PRINT_DEFAULT:
			fputs(config_default_json(), stdout);
			return EXIT_SUCCESS;
		case OPT_PROBE:
			return probe();
		case OPT_HEAP_SNAPSHOT: {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v <= 0 || v > INT_MAX) {
				fprintf(stderr, "memagent: --heap-snapshot: '%s' is not a pid\n", optarg);
				return EX_USAGE;
			}
			o.heap_snapshot_pid = (int)v;
			break;
		}
		case OPT_PROC_ROOT:
			o.proc_root = optarg;
			break;
		case OPT_CGROUP_ROOT:
			o.cgroup_root = optarg;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("memagent %s\n", MEMAGENT_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "memagent: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	log_init(o.verbose);
	if (o.heap_snapshot_pid)
		return heap_snapshot(&o);
	/* BPF sees the live kernel, not a fixture tree: a --proc-root other
	 * than /proc means /proc readers only. */
	if (strcmp(o.proc_root, "/proc") != 0 && !o.no_bpf) {
		o.no_bpf = true;
		if (!o.once)
			log_notice("--proc-root %s: BPF off, it would read the live kernel", o.proc_root);
	}
	return o.once ? run_once(&o) : run(&o);
}
