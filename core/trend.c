/* SPDX-License-Identifier: MIT */
/* Trends of one series: the leak rule and the queue growth rule (trend.h).
 *
 * Invariant of both detectors: pts[] holds the last min(n, history) points in
 * strictly increasing time, point i (0-based, ever) in pts[i % history], and
 * the verdict fields describe the newest of them.
 */
#include <errno.h>
#include <string.h>

#include "trend.h"

#define SLOPE_POINTS 16

/* ---------------------------------------------------------------- helpers */

/* The k-th smallest of v[0..n) (0-based), found in place by quickselect:
 * afterwards v[0..k) are all <= it. Linear on average, where sorting the
 * 120 slopes of a fit per full GC was most of an _add's cost. */
static double select_kth(double *v, unsigned n, unsigned k)
{
	unsigned lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		unsigned i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double t = v[i];

				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* The median of v[0..n) (reordered); 0 for none. */
static double median_of(double *v, unsigned n)
{
	if (n == 0)
		return 0;
	double upper = select_kth(v, n, n / 2);
	if (n % 2)
		return upper;
	double lower = v[0];
	for (unsigned i = 1; i < n / 2; i++)
		if (v[i] > lower)
			lower = v[i];
	return (lower + upper) / 2;
}

/* Newton's square root of a small positive x: the core room links no libm. */
static double square_root(double x)
{
	double r = x > 1 ? x : 1;

	for (int i = 0; i < 30; i++)
		r = (r + x / r) / 2;
	return r;
}

static const struct trend_point *point_at(const struct trend_point *pts, uint32_t history, uint64_t i)
{
	return &pts[i % history];
}

/* The noise of a series: the median absolute deviation of its successive
 * differences over points [from, to], scaled to a standard deviation of the
 * values (x 1.4826 for a normal spread, / sqrt 2 because a difference carries
 * the noise of two points). Differences rather than values, so that a steady
 * trend is not noise; the median, so that a step now and then (a step leak,
 * a sawtooth's release) is not noise either. */
static double series_noise(const struct trend_point *pts, uint32_t history, uint64_t from, uint64_t to)
{
	double d[TREND_HISTORY_MAX];
	unsigned n = 0;

	for (uint64_t i = from + 1; i <= to && n < TREND_HISTORY_MAX; i++)
		d[n++] = (double)point_at(pts, history, i)->value - (double)point_at(pts, history, i - 1)->value;
	if (n < 2)
		return 0;
	double med = median_of(d, n);
	for (unsigned i = 0; i < n; i++)
		d[i] = d[i] > med ? d[i] - med : med - d[i];
	return median_of(d, n) * 1.4826 / 1.41421356;
}

/* The robust spread (MAD, scaled to a standard deviation) of points
 * [from, to] about the line of that slope through their median residual. */
static double fit_spread(const struct trend_point *pts, uint32_t history, uint64_t from, uint64_t to, double slope)
{
	double r[TREND_HISTORY_MAX];
	unsigned n = 0;
	uint64_t t0 = point_at(pts, history, from)->t_ns;

	for (uint64_t i = from; i <= to && n < TREND_HISTORY_MAX; i++) {
		const struct trend_point *pt = point_at(pts, history, i);

		r[n++] = (double)pt->value - slope * (double)(pt->t_ns - t0) / 1e9;
	}
	double med = median_of(r, n);
	for (unsigned i = 0; i < n; i++)
		r[i] = r[i] > med ? r[i] - med : med - r[i];
	return median_of(r, n) * 1.4826;
}

/* Theil-Sen slope, per second, of the last m (at most SLOPE_POINTS) points
 * ending at `to`: the median of the slopes of all pairs, which one outlier (a
 * release, a step) does not swing. */
static double series_slope(const struct trend_point *pts, uint32_t history, uint64_t m, uint64_t to)
{
	double s[SLOPE_POINTS * (SLOPE_POINTS - 1) / 2];
	unsigned n = 0;

	if (m > SLOPE_POINTS)
		m = SLOPE_POINTS;
	if (m > history)
		m = history;
	for (uint64_t a = to + 1 - m; a <= to; a++) {
		for (uint64_t b = a + 1; b <= to; b++) {
			const struct trend_point *pa = point_at(pts, history, a), *pb = point_at(pts, history, b);
			double dt = (double)(pb->t_ns - pa->t_ns) / 1e9;

			s[n++] = ((double)pb->value - (double)pa->value) / dt;
		}
	}
	return median_of(s, n);
}

/* ------------------------------------------------------------- leak rule */

void trend_leak_params_default(struct trend_leak_params *ret)
{
	*ret = (struct trend_leak_params){
		.warmup_gcs = 20,
		.warmup_ns = 60ull * 1000000000ull,
		.hold = 3,
		.lag = 10,
		.history = TREND_HISTORY_MAX,
		.noise_k = 4.0,
		.noise_k_rss = 3.0,
		.min_growth_pct = 0.5,
		.min_growth_bytes = 64 * 1024,
		.clear_after = 20,
		.trend_points = 16,
		.trend_min_points = 8,
		.trend_k = 5.0,
	};
}

int trend_leak_init(struct trend_leak *l, const struct trend_leak_params *p)
{
	struct trend_leak_params def;

	if (!p) {
		trend_leak_params_default(&def);
		p = &def;
	}
	/* The past compared against must exist beside the held points: the ring
	 * keeps history points, the held ones and lag-hold between them. */
	if (p->hold < 1 || p->lag < p->hold || p->history > TREND_HISTORY_MAX ||
	    p->history < p->lag + 2 || p->warmup_gcs < 1 || p->warmup_ns < 1 || p->noise_k < 0 || p->noise_k_rss < 0 ||
	    p->min_growth_pct < 0 || p->clear_after < 1 || p->trend_points > SLOPE_POINTS ||
	    p->trend_points > p->history || p->trend_min_points < 3 || p->trend_min_points > p->trend_points ||
	    p->trend_k < 0)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->p = *p;
	return 0;
}

bool trend_leak_suspected(const struct trend_leak *l)
{
	return l->suspected;
}

bool trend_leak_warming(const struct trend_leak *l)
{
	return l->warmup_end == 0;
}

double trend_leak_growth_bytes_per_second(const struct trend_leak *l)
{
	return l->n >= 2 ? series_slope(l->pts, l->p.history, l->n, l->n - 1) : 0;
}

/* Judges the newest point k (the held window is [k-hold+1, k]); the past it
 * is compared against ends at the later of k-lag and the warm-up's last
 * point, and never reaches into the held window. */
static void leak_judge(struct trend_leak *l, uint64_t k)
{
	const struct trend_leak_params *p = &l->p;
	uint64_t oldest = l->n > p->history ? l->n - p->history : 0;
	uint64_t hold_from = k + 1 - p->hold;
	uint64_t ref_to = k >= p->lag ? k - p->lag : 0;

	if (l->warmup_end - 1 > ref_to)
		ref_to = l->warmup_end - 1;
	if (ref_to >= hold_from)
		ref_to = hold_from - 1;

	double held = (double)UINT64_MAX, held_rss = (double)UINT64_MAX, past = 0, past_rss = 0;
	bool rss_known = true;
	for (uint64_t i = hold_from; i <= k; i++) {
		const struct trend_point *pt = point_at(l->pts, p->history, i);
		if ((double)pt->value < held)
			held = (double)pt->value;
		if ((double)pt->rss < held_rss)
			held_rss = (double)pt->rss;
		rss_known &= pt->rss != 0;
	}
	for (uint64_t i = oldest; i <= ref_to; i++) {
		const struct trend_point *pt = point_at(l->pts, p->history, i);
		if ((double)pt->value > past)
			past = (double)pt->value;
		if ((double)pt->rss > past_rss)
			past_rss = (double)pt->rss;
		rss_known &= pt->rss != 0;
	}

	double noise = series_noise(l->pts, p->history, oldest, k);
	/* A median of 63 differences is itself noisy (~17%), and a fit judged
	 * at every full GC meets its low tail: the slow path also takes the
	 * noise's long-run average (the last ~64 estimates) as a floor. */
	l->noise_avg = l->noise_avg == 0 ? noise : l->noise_avg + (noise - l->noise_avg) / 64;
	double excess = held - past;
	bool rss_along = rss_known && held_rss - past_rss >= excess;
	double margin = (rss_along ? p->noise_k_rss : p->noise_k) * noise;
	if (margin < past * p->min_growth_pct / 100)
		margin = past * p->min_growth_pct / 100;
	if (margin < (double)p->min_growth_bytes)
		margin = (double)p->min_growth_bytes;
	bool over = excess > margin;   /* the newest point made new ground */

	/* The slow path: old space rising steadily since the warm-up, by more
	 * than its noise allows over that many points (the standard error of a
	 * fitted rise over n points of noise s is about s * sqrt(12 / n)), in a
	 * heap that released nothing in the whole history (no drop beyond twice
	 * the margin: a heap that gives memory back, a sawtooth, is judged by new
	 * ground alone, or its every rising phase would be a slow leak). New
	 * ground alone needs the rise to clear the past's noisiest peak; a fit
	 * sees a 2%/min rise under 0.3% noise within ten points. */
	uint64_t n_fit = k + 1 - l->warmup_end;
	if (n_fit > p->trend_points)
		n_fit = p->trend_points;
	if (n_fit >= p->trend_min_points) {
		uint64_t from = k + 1 - n_fit;
		bool released = false;
		double drop = 2 * p->noise_k * noise + (double)p->min_growth_bytes;

		for (uint64_t i = oldest + 1; i <= k; i++)
			released |= (double)point_at(l->pts, p->history, i)->value + drop <
				    (double)point_at(l->pts, p->history, i - 1)->value;
		double span_s = (double)(point_at(l->pts, p->history, k)->t_ns -
					 point_at(l->pts, p->history, from)->t_ns) / 1e9;
		double slope = series_slope(l->pts, p->history, n_fit, k);
		double rise = slope * span_s;
		/* The spread about the fit, not only the noise of successive
		 * differences: a regular pattern (a full cache evicting in
		 * batches) has steady differences but swings around its level,
		 * and a fit over a few of its periods rises or falls by chance. */
		double spread = fit_spread(l->pts, p->history, from, k, slope);
		if (spread < noise)
			spread = noise;
		if (spread < l->noise_avg)
			spread = l->noise_avg;
		double need = p->trend_k * spread * square_root(12.0 / (double)n_fit);
		double floor_need = held * p->min_growth_pct / 100;
		if (need < floor_need)
			need = floor_need;
		if (need < (double)p->min_growth_bytes)
			need = (double)p->min_growth_bytes;
		/* And the held level above every point of the fit's first half:
		 * a fit over a few points of noise rises by chance more often
		 * than its standard error says (the noise is estimated too), a
		 * chance rise seldom also lifts the floor above that half. */
		double first_half = 0;
		for (uint64_t i = from; i < from + n_fit / 2; i++)
			if ((double)point_at(l->pts, p->history, i)->value > first_half)
				first_half = (double)point_at(l->pts, p->history, i)->value;
		if (!released && rise > need && held > first_half)
			over = true;
	}

	if (over) {
		l->suspected = true;
		l->quiet = 0;
	} else if (l->suspected && ++l->quiet >= p->clear_after) {
		l->suspected = false;
		l->quiet = 0;
	}
}

int trend_leak_add(struct trend_leak *l, uint64_t t_ns, uint64_t old_bytes, uint64_t rss_bytes)
{
	const struct trend_leak_params *p = &l->p;

	if (l->n > 0 && t_ns <= point_at(l->pts, p->history, l->n - 1)->t_ns)
		return -EINVAL;
	if (l->n == 0)
		l->first_ns = t_ns;
	uint64_t k = l->n++;
	l->pts[k % p->history] = (struct trend_point){ .t_ns = t_ns, .value = old_bytes, .rss = rss_bytes };

	if (l->warmup_end == 0 && (k >= p->warmup_gcs || t_ns - l->first_ns >= p->warmup_ns))
		l->warmup_end = k;
	/* Judged once every held point is past the warm-up (a level reached in
	 * the warm-up is its baseline) and the warm-up's points are still in the
	 * ring, or the lag's. */
	if (l->warmup_end != 0 && k + 1 >= l->warmup_end + p->hold && k >= p->hold)
		leak_judge(l, k);
	return 0;
}

/* ------------------------------------------------------------ queue rule */

void trend_queue_params_default(struct trend_queue_params *ret)
{
	*ret = (struct trend_queue_params){
		.window = 12,
		.history = TREND_HISTORY_MAX,
		.noise_k = 3.0,
		.min_growth_items = 1,
		.clear_after = 12,
	};
}

int trend_queue_init(struct trend_queue *q, const struct trend_queue_params *p)
{
	struct trend_queue_params def;

	if (!p) {
		trend_queue_params_default(&def);
		p = &def;
	}
	if (p->window < 3 || p->window % 3 || p->history > TREND_HISTORY_MAX || p->history < p->window ||
	    p->noise_k < 0 || p->clear_after < 1)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->p = *p;
	return 0;
}

bool trend_queue_suspected(const struct trend_queue *q)
{
	return q->suspected;
}

static double third_min(const struct trend_queue *q, uint64_t from, uint32_t len)
{
	double m = (double)UINT64_MAX;

	for (uint64_t i = from; i < from + len; i++) {
		double v = (double)point_at(q->pts, q->p.history, i)->value;
		if (v < m)
			m = v;
	}
	return m;
}

int trend_queue_add(struct trend_queue *q, uint64_t t_ns, uint64_t depth)
{
	const struct trend_queue_params *p = &q->p;

	if (q->n > 0 && t_ns <= point_at(q->pts, p->history, q->n - 1)->t_ns)
		return -EINVAL;
	uint64_t k = q->n++;
	q->pts[k % p->history] = (struct trend_point){ .t_ns = t_ns, .value = depth };
	if (q->n < p->window)
		return 0;

	uint64_t oldest = q->n > p->history ? q->n - p->history : 0;
	uint32_t third = p->window / 3;
	uint64_t from = k + 1 - p->window;
	double m1 = third_min(q, from, third), m2 = third_min(q, from + third, third),
	       m3 = third_min(q, from + 2 * third, third);

	double margin = p->noise_k * series_noise(q->pts, p->history, oldest, k);
	if (margin < (double)p->min_growth_items)
		margin = (double)p->min_growth_items;
	/* The newest window rose through its three thirds. */
	if (m2 - m1 > margin && m3 - m2 > margin) {
		q->suspected = true;
		q->quiet = 0;
	} else if (q->suspected && ++q->quiet >= p->clear_after) {
		q->suspected = false;
		q->quiet = 0;
	}
	return 0;
}
