/* SPDX-License-Identifier: MIT */
/* memagent: command line, start-up, and the event loop (timer, signals). */
#include <errno.h>
#include <getopt.h>
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

#include "bpf_support.h"
#include "config.h"
#include "httpd.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "probe.h"
#include "promtext.h"
#include "registry.h"
#include "sampler.h"
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

static void tick(struct sampler *s, struct httpd *h)
{
	struct snapshot *snap;

	stall_while_asked();
	snap = sampler_tick(s);

	if (!snap) {
		log_error("sample failed: out of memory");
		return;
	}
	httpd_warm(h, snap);
}

/* Starts serving on listen with cfg's HTTP limits. */
static int serve(const struct config *cfg, const char *listen, struct registry *reg, struct httpd **ret,
		 char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct httpd_options ho = { &ss, 0, cfg->limits.http_connections, cfg->limits.http_timeout_s };
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
	       a->limits.http_timeout_s != b->limits.http_timeout_s;
}

/* Starts the server next asks for, in *nh. The new one is bound while the
 * old one still serves, so a failure changes nothing; only an address that
 * overlaps the old one (same port, 127.0.0.1 -> 0.0.0.0) cannot be bound
 * beside it: then the old server stops first and, should the new address
 * still fail, comes back on its address. Returns 0, or a negative errno
 * with *h still serving (or NULL if even the old address could not be
 * bound again: the caller stops). */
static int reserve(const struct config *cur, const struct config *next, struct httpd **h, struct registry *reg,
		   struct httpd **nh, char *err, size_t errlen)
{
	char old[64];
	const char *listen;
	int r;

	/* A copy: *h may be freed below. An unchanged listen keeps the port
	 * it got (port 0 picks once). */
	snprintf(old, sizeof(old), "%s", httpd_address(*h));
	listen = strcmp(next->listen, cur->listen) == 0 ? old : next->listen;
	r = serve(next, listen, reg, nh, err, errlen);
	if (r != -EADDRINUSE || port_of(listen) != port_of(old))
		return r;
	*h = httpd_free(*h);
	r = serve(next, listen, reg, nh, err, errlen);
	if (r < 0) {
		char again[256];

		if (serve(cur, old, reg, h, again, sizeof(again)) < 0)
			log_error("cannot serve on %s again: %s", old, again);
	}
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

	snprintf(st, sizeof(st), "%sserving http://%s/metrics: %zu target%s every %u ms (%s)", prefix,
		 httpd_address(h), cfg->targets.n, cfg->targets.n == 1 ? "" : "s", cfg->interval_ms,
		 cfg->source);
	notify_ready(n, st);
}

/* Reloads the configuration file. Everything that can fail (parsing,
 * binding a new address) happens before anything changes, so a failure
 * leaves the running configuration and server untouched. Returns 0 when
 * reloaded, 1 when the running configuration was kept, or -EADDRNOTAVAIL
 * when the agent no longer serves at all. */
static int reload(const struct options *o, struct config **cfg, struct sampler *s,
		  struct httpd **h, struct registry *reg, int tfd, int efd)
{
	struct config *next;
	struct httpd *nh = NULL;
	char err[256];

	if (load_config(o, &next) < 0) {
		log_error("reload failed; keeping the running configuration");
		sampler_note_reload(s, false);
		return 1;
	}
	if (http_changed(*cfg, next) && reserve(*cfg, next, h, reg, &nh, err, sizeof(err)) < 0) {
		log_error("reload failed: %s; keeping the running configuration", err);
		config_free(next);
		sampler_note_reload(s, false);
		return *h ? 1 : -EADDRNOTAVAIL;
	}
	sampler_reconfigure(s, next);
	watch_collectors(efd, s);
	if (nh) {
		httpd_free(*h);
		*h = nh;
		log_notice("serving http://%s/metrics", httpd_address(nh));
	}
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
	struct config *cfg = NULL;
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

	if (serve(cfg, cfg->listen, reg, &h, err, sizeof(err)) < 0) {
		log_error("cannot serve: %s", err);
		goto out;
	}
	if (sampler_new(cfg, &so, reg, &s) < 0)
		goto out;
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
	tick(s, h);
	/* Serving, and ready, once the first sample is: /metrics answers 503
	 * before it, so a scrape after this line (or after `systemctl start`
	 * returns) sees numbers. */
	log_notice("memagent %s: configuration %s, interval %u ms, serving http://%s/metrics",
		   MEMAGENT_VERSION, cfg->source, cfg->interval_ms, httpd_address(h));
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
					tick(s, h);
			} else if (id == -1) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						sampler_rescan(s);
						tick(s, h);
					} else if (si.ssi_signo == SIGHUP) {
						notify_reloading(&nt);
						r = reload(o, &cfg, s, &h, reg, tfd, efd);
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

	if (config_load(path, &c, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return EX_CONFIG;
	}
	printf("%s: valid (%zu target%s)\n", path, c->targets.n, c->targets.n == 1 ? "" : "s");
	config_free(c);
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
	       OPT_PROBE };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "no-bpf", no_argument, NULL, OPT_NO_BPF },
		{ "check-config", required_argument, NULL, OPT_CHECK },
		{ "print-default-config", no_argument, NULL, OPT_PRINT_DEFAULT },
		{ "probe", no_argument, NULL, OPT_PROBE },
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
	/* BPF sees the live kernel, not a fixture tree: a --proc-root other
	 * than /proc means /proc readers only. */
	if (strcmp(o.proc_root, "/proc") != 0 && !o.no_bpf) {
		o.no_bpf = true;
		if (!o.once)
			log_notice("--proc-root %s: BPF off, it would read the live kernel", o.proc_root);
	}
	return o.once ? run_once(&o) : run(&o);
}
