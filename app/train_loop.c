/*
 * knseg train: the iterations. Each one takes the next batch from the loader, runs the
 * forward and backward passes, checks the loss is finite and updates the parameters.
 * Logging, validation and checkpoints happen between iterations, and so does stopping on
 * Ctrl-C (SIGINT) or SIGTERM: the run saves last.safetensors and exits, to be resumed
 * exactly with --resume.
 *
 * Exact resumption rests on state that is all in the training checkpoint: parameters,
 * optimizer state and step count, the iteration, and where the loader stands (epoch and
 * batch). Everything random derives from the seed and those positions (dropout masks
 * from (seed, iteration, op, image), augmentation from (seed, epoch, position)), and the
 * learning rate is a function of the iteration.
 *
 * Several processes (app/dist.h). Each rank holds a replica of the network and takes its
 * slice of every global batch (the loader's slice, the model's first image index), so
 * that together they compute the single-process iteration: the loss is divided by the
 * weight of the valid pixels of the whole global batch (summed over the ranks before
 * the backward pass), the gradients are summed over the ranks, and every rank takes
 * the same optimizer step. The ranks agree at fixed points of every iteration: whether
 * to stop (a signal) before it, and whether any failed (a sample, a file) after the
 * forward pass; a failure is said by the rank that had it, and rank 0, which writes
 * the run folder, saves last.safetensors. A checksum of the parameters is compared
 * across the ranks at every log line and checkpoint.
 */
#include "app/knseg.h"
#include "app/knseg_internal.h"
#include "app/dist.h"
#include "app/split_eval.h"
#include "app/train.h"
#include "io/clock.h"
#include "io/error.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Past a file size limit (ulimit -f), a write then fails with EFBIG and is reported
	 * like a full disk, instead of the signal killing the run without a word. */
	signal(SIGXFSZ, SIG_IGN);
}

/* The batch into the model's input and label buffers (padding smaller images). */
static int load_batch(struct train_run *r, const struct loader_batch *b)
{
	struct model *m = r->m;
	size_t plane = (size_t)m->h * m->w;

	if (b->n != m->n || b->h > m->h || b->w > m->w)
		return kn_error(KN_EMISMATCH, "batch of %d images of %dx%d does not fit the network "
				"input %dx%d (--augment none needs images of one size)", b->n,
				b->w, b->h, m->w, m->h);
	memset(r->labels, 255, (size_t)m->n * plane);
	for (int i = 0; i < b->n; i++) {
		model_set_input(m, i, b->images + (size_t)i * 3 * b->h * b->w, b->h, b->w);
		for (int y = 0; y < b->h; y++)
			memcpy(r->labels + i * plane + (size_t)y * m->w,
			       b->labels + ((size_t)i * b->h + y) * b->w, (size_t)b->w);
	}
	return 0;
}

/* Another rank's failure, which that rank has reported. */
static bool peer_failed;

/*
 * An agreement on err: 0 when no rank failed, else this rank's error or, on a rank that
 * did not fail, an error of another rank's (that rank reports it).
 */
static int agree(int err)
{
	if (!dist_any(err != 0))
		return 0;
	if (err)
		return err;
	peer_failed = true;
	return kn_error(KN_EIO, "another process failed");
}

/* A private run's checkpoints say what the model cost: epsilon at delta so far. */
static void add_privacy_meta(struct safetensors_writer *w, const struct train_run *r)
{
	char buf[64];

	if (!r->dp.on)
		return;
	snprintf(buf, sizeof(buf), "%.6g", train_dp_epsilon(r, r->ts.step));
	safetensors_add_meta(w, "dp.epsilon", buf);
	snprintf(buf, sizeof(buf), "%.6g", r->o.dp_delta);
	safetensors_add_meta(w, "dp.delta", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)r->ts.step);
	safetensors_add_meta(w, "dp.iterations", buf);
}

/* best.safetensors: the model alone (with what it cost, for a private run). */
static int save_best(struct train_run *r, const char *path)
{
	struct safetensors_writer w;
	int err;

	safetensors_writer_init(&w);
	checkpoint_add_model(&w, &r->m->g, r->m->params, &r->meta);
	add_privacy_meta(&w, r);
	err = safetensors_write(&w, path);
	safetensors_writer_free(&w);
	return err;
}

static int save_last(struct train_run *r)
{
	struct checkpoint_meta meta = r->meta;
	struct safetensors_writer w;
	char path[4096];
	int err;

	if (r->rank != 0)
		return 0; /* rank 0 writes the run folder */
	strcpy(meta.kind, "train");
	safetensors_writer_init(&w);
	checkpoint_add_model(&w, &r->m->g, r->m->params, &meta);
	checkpoint_add_train(&w, &r->opt, &r->ts);
	train_add_run_meta(&w, r);
	add_privacy_meta(&w, r);
	runlog_path(&r->log, "last.safetensors", path, sizeof(path));
	err = safetensors_write(&w, path);
	safetensors_writer_free(&w);
	return err;
}

/* Validation mIoU of the current parameters; the report is printed when verbose. */
static int validate(struct train_run *r, double *miou, bool verbose)
{
	struct knseg_options seg = knseg_default_options();
	struct eval_options eo = {true, false, "val"};
	struct eval_model_ctx ctx;
	struct eval_source src;
	struct knseg *ks;
	struct report rep;
	int err = knseg_wrap(&ks, &r->meta, r->m);

	if (err)
		return err;
	ctx.ks = ks;
	ctx.seg = &seg;
	eval_source_model(&src, &ctx);
	err = evaluate_dataset(&r->val, &src, &eo, &rep);
	if (!err) {
		char path[4096];

		*miou = rep.miou;
		if (verbose && r->rank == 0)
			report_print(stdout, &rep);
		runlog_path(&r->log, "val.json", path, sizeof(path));
		if (r->rank == 0)
			err = report_write_json(path, &rep);
		report_free(&rep);
	}
	knseg_close(ks);
	return err;
}

/*
 * The replicas must hold the same parameters: each rank's checksum is compared with
 * rank 0's (a difference would mean a sum that was not the same on every rank).
 */
static int check_replicas(struct train_run *r)
{
	bool mine;

	if (r->ranks == 1)
		return 0;
	if (!dist_differs(dist_hash(r->m->params, r->m->g.param_count * sizeof(float),
				    DIST_HASH_START), &mine))
		return 0;
	if (!mine)
		peer_failed = true;
	return kn_error(KN_EMISMATCH, "the parameters of this process differ from rank 0's at "
			"iteration %lld: stopping", (long long)r->ts.step);
}

/* Validates (when there is a validation split), keeps the best, saves last. */
static int checkpoint_step(struct train_run *r, double *miou, bool verbose)
{
	char path[4096];
	int err = check_replicas(r);

	*miou = -1;
	if (err)
		return err;
	/* Every rank validates its share of the images and gets the same mIoU, so all take
	 * the same decision on the best checkpoint. */
	if (r->has_val && (err = agree(validate(r, miou, verbose))))
		return err;
	if (r->has_val && !(*miou <= r->ts.best_miou)) {
		r->ts.best_miou = *miou;
		r->ts.best_step = r->ts.step;
		runlog_path(&r->log, "best.safetensors", path, sizeof(path));
		if (r->rank == 0)
			err = save_best(r, path);
		if ((err = agree(err)))
			return err;
	}
	return agree(save_last(r));
}

struct progress {
	double t0, t_log, loss_sum;
	int64_t first_step, log_images, nloss;
	int64_t saved_step; /* iteration of the last checkpoint written, -1 for none */
	bool tty;
};

static int log_step(struct train_run *r, struct progress *p, double lr, double miou)
{
	double t = kn_seconds(), ips = p->log_images / fmax(t - p->t_log, 1e-9);
	double per_step = (t - p->t0) / (double)(r->ts.step - p->first_step);
	double eta = per_step * (double)(r->o.iters - r->ts.step);
	double loss = p->nloss ? p->loss_sum / (double)p->nloss : NAN;
	double eps = r->dp.on ? train_dp_epsilon(r, r->ts.step) : -1;
	int err = r->rank == 0 ? runlog_row(&r->log, r->ts.step, r->ts.epoch, loss, lr, ips, miou,
					    eps)
			       : 0;
	char privacy[48] = "";

	if ((err = agree(err)))
		return err;
	p->t_log = t;
	p->log_images = 0;
	p->loss_sum = 0;
	p->nloss = 0;
	if (r->rank != 0)
		return 0;
	if (eps >= 0)
		snprintf(privacy, sizeof(privacy), "  epsilon %.3f", eps);
	printf("%sepoch %lld  iter %lld/%lld  loss %.4f  lr %.3g  %.1f img/s%s  ETA %d:%02d%s",
	       p->tty ? "\r" : "", (long long)r->ts.epoch, (long long)r->ts.step,
	       (long long)r->o.iters, loss, lr, ips, privacy, (int)(eta / 60), (int)fmod(eta, 60),
	       p->tty ? "   " : "\n");
	if (miou >= 0)
		printf("%sval mIoU %.4f (best %.4f at iter %lld)\n", p->tty ? "\n" : "", miou,
		       r->ts.best_miou, (long long)r->ts.best_step);
	fflush(stdout);
	return 0;
}

/* "the weights of --init 'F'" (or --init-backbone, --resume) into buf; false if random. */
static bool initial_weights(const struct train_run *r, char *buf, size_t size)
{
	const char *option = r->o.resume ? "--resume" : r->o.init ? "--init" : "--init-backbone";
	const char *path = r->o.resume ? r->o.resume : r->o.init ? r->o.init : r->o.init_backbone;

	snprintf(buf, size, "the weights of %s '%s'", option, path ? path : "");
	return path != NULL;
}

/*
 * The message for a non-finite loss: which checkpoint is kept, if any, and the causes
 * that can apply. At the run's first iteration no update has been made, so only the
 * initial weights can be at fault; later the learning rate too.
 */
static int loss_error(const struct train_run *r, const struct progress *p, double loss)
{
	char last[4096], kept[4200], init[4200], cause[4300];
	bool from_file = initial_weights(r, init, sizeof(init));

	runlog_path(&r->log, "last.safetensors", last, sizeof(last));
	if (p->saved_step >= 0)
		snprintf(kept, sizeof(kept), "'%s' holds iteration %lld", last,
			 (long long)p->saved_step);
	else if (access(last, F_OK) == 0)
		snprintf(kept, sizeof(kept), "'%s' is left as it was", last);
	else
		snprintf(kept, sizeof(kept), "no checkpoint was written");
	if (r->ts.step == p->first_step)
		snprintf(cause, sizeof(cause), "%s, before any update",
			 from_file ? init : "the initial weights");
	else
		snprintf(cause, sizeof(cause), "a learning rate too high (--lr %g)%s%s",
			 r->o.optim.lr, from_file ? " or " : "", from_file ? init : "");
	return kn_error(KN_EINVAL, "the loss is %g at iteration %lld: stopping; %s; cause: %s",
			loss, (long long)r->ts.step + 1, kept, cause);
}

/*
 * The first half of an iteration on this rank's slice b: the forward pass, and the
 * weight of its valid pixels (the loss's denominator is the sum over the ranks).
 */
static int forward(struct train_run *r, const struct loader_batch *b, double *wsum)
{
	int err = load_batch(r, b);

	if (err)
		return err;
	r->m->step = r->ts.step;
	r->m->image_streams = r->image_streams;
	model_forward(r->m);
	*wsum = model_label_weight(r->m, r->labels, r->weights);
	return 0;
}

/*
 * The second half, once the ranks agree that all went well: the backward pass over the
 * global denominator wsum, the sum of the gradients and losses over the ranks, the
 * update. The loss (of the global batch) through *loss.
 */
static int update(struct train_run *r, const struct progress *p, const struct loader_batch *b,
		  double lr, double wsum, double *loss)
{
	struct dist_grads sync;

	r->opt.cfg.lr = lr;
	dist_grads_begin(&sync, r->m->grads, r->m->g.param_count,
			 (size_t)(r->o.bucket_mb * 1048576 / sizeof(float)));
	r->m->grads_ready = r->ranks > 1 ? dist_grads_ready : NULL;
	r->m->grads_ctx = &sync;
	*loss = model_backward_over(r->m, r->labels, r->weights, wsum);
	dist_grads_end(&sync);
	r->m->grads_ready = NULL;
	if (r->ranks > 1)
		dist_sum_doubles(loss, 1);
	/* The same loss on every rank, so all take the same decision. */
	if (!isfinite(*loss)) {
		if (r->rank != 0)
			peer_failed = true; /* rank 0 says it */
		return loss_error(r, p, *loss);
	}
	optim_step(&r->opt, r->m->params, r->m->grads);
	r->ts.step++;
	r->ts.epoch = b->epoch;
	r->ts.batch = b->index + 1;
	if (r->ts.batch == r->batches_per_epoch) {
		r->ts.epoch++;
		r->ts.batch = 0;
	}
	if (b->skipped)
		fprintf(stderr, "warning: %sskipped %d bad sample%s: %s\n", dist_where(), b->skipped,
			b->skipped == 1 ? "" : "s", b->skip_msg);
	return 0;
}

/*
 * A failure that is not the network's (a sample the loader cannot read, a log that
 * cannot be written) stops the run, but the iterations done so far are kept in
 * last.safetensors, to go on from with --resume once the cause is gone. what_next
 * ends the message: what to do about the cause.
 */
static int stop_and_save(struct train_run *r, int err, const char *what_next)
{
	char cause[1024], why[1024];

	snprintf(cause, sizeof(cause), "%s", kn_errmsg());
	if (save_last(r) < 0) {
		snprintf(why, sizeof(why), "%s", kn_errmsg());
		return kn_error(err, "%s; last.safetensors could not be saved either: %s", cause,
				why);
	}
	return kn_error(err, "%s; saved %s/last.safetensors at iteration %lld; %s", cause,
			r->o.out, (long long)r->ts.step, what_next);
}

/* The loader failed on a sample (its message names the file). */
static int stop_on_bad_sample(struct train_run *r, int err)
{
	char next[8192];

	snprintf(next, sizeof(next), "fix or remove the file and go on with --resume "
		 "%s/last.safetensors%s", r->o.out,
		 r->o.skip_bad || r->dp.on ? "" : ", or add --skip-bad to skip unreadable samples");
	return stop_and_save(r, err, next);
}

/*
 * A rank failed in the first half of an iteration (err on this rank, or 0 when another
 * failed). One process: as before, a bad sample saves last.safetensors and says how to
 * go on. Several: the failing rank says what failed, rank 0 saves and says where.
 */
static int stop_on_failure(struct train_run *r, int err, bool bad_sample)
{
	if (r->ranks == 1)
		return bad_sample ? stop_on_bad_sample(r, err) : err;
	if (err)
		fprintf(stderr, "knseg train: %s%s\n", dist_where(), kn_errmsg());
	peer_failed = true; /* said here, and below by rank 0 */
	if (r->rank != 0)
		return KN_EIO;
	if (save_last(r) < 0)
		fprintf(stderr, "knseg train: stopped: a process failed (above); last.safetensors "
			"could not be saved either: %s\n", kn_errmsg());
	else
		fprintf(stderr, "knseg train: stopped: a process failed (above); saved "
			"%s/last.safetensors at iteration %lld; fix the cause and go on with "
			"--resume %s/last.safetensors\n", r->o.out, (long long)r->ts.step, r->o.out);
	return KN_EIO;
}

static int stop_on_log_error(struct train_run *r, int err)
{
	char next[8192];

	snprintf(next, sizeof(next), "once the log can be written, go on with --resume "
		 "%s/last.safetensors", r->o.out);
	return stop_and_save(r, err, next);
}

static int finish(struct train_run *r, int64_t end, struct progress *p)
{
	int err = p->saved_step == r->ts.step ? 0 : save_last(r);

	if ((err = agree(err)))
		return err;
	if (r->rank != 0)
		return 0;
	if (p->tty)
		putchar('\n');
	if (r->ts.step < r->o.iters) {
		printf("stopped at iteration %lld of %lld; resume with --resume %s/last.safetensors\n",
		       (long long)r->ts.step, (long long)r->o.iters, r->o.out);
	} else {
		printf("done: %lld iterations in %.0f s", (long long)end, kn_seconds() - p->t0);
		if (r->has_val)
			printf(", best val mIoU %.4f at iteration %lld (%s/best.safetensors)",
			       r->ts.best_miou, (long long)r->ts.best_step, r->o.out);
		if (r->dp.on)
			printf("; differential privacy: epsilon %.3f at delta %g (one training image)",
			       train_dp_epsilon(r, r->ts.step), r->o.dp_delta);
		printf("\n");
	}
	(void)runlog_plot(&r->log);
	return 0;
}

/*
 * An iteration on the loader's batch (this rank's slice of it), with the agreement of
 * the ranks on failures and signals after the forward pass.
 */
static int batch_iteration(struct train_run *r, struct progress *p, double lr, bool *stopped)
{
	const struct loader_batch *b;
	double loss, shared[3] = {0, 0, 0};
	int rc = loader_next(r->loader, &b);
	int err = rc < 0 ? rc : rc == 0 ? kn_error(KN_EIO, "the loader ended early")
				     : forward(r, b, &shared[0]);

	shared[1] = err != 0;
	shared[2] = stop_signal != 0;
	dist_sum_doubles(shared, 3);
	if (shared[1] > 0)
		return stop_on_failure(r, err, rc < 0);
	/* A signal during the forward pass: this iteration is left undone (resuming
	 * repeats it), so that the save comes at once; mpirun gives the ranks little
	 * time after passing a signal on (README). */
	if ((*stopped = shared[2] > 0))
		return 0;
	if ((err = update(r, p, b, lr, shared[0], &loss)))
		return err;
	p->loss_sum += loss;
	p->nloss++;
	p->log_images += (int64_t)b->n * r->ranks;
	return 0;
}

/*
 * A private iteration (train_dp.c): every rank's share of the Poisson batch, an
 * agreement on failures and signals, then the noisy step. The mean of the images'
 * losses goes to the log (no image, no loss).
 */
static int private_iteration(struct train_run *r, struct progress *p, double lr,
			     bool *stopped)
{
	int err = train_dp_gradients(r);
	double shared[3] = {r->dp.loss_sum, err != 0, stop_signal != 0};

	dist_sum_doubles(shared, 3);
	if (shared[1] > 0)
		return stop_on_failure(r, err, true);
	if ((*stopped = shared[2] > 0))
		return 0;
	if (!isfinite(shared[0])) {
		if (r->rank != 0)
			peer_failed = true; /* rank 0 says it */
		return loss_error(r, p, shared[0]);
	}
	train_dp_update(r, lr);
	if (r->dp.images) {
		p->loss_sum += shared[0] / r->dp.images;
		p->nloss++;
	}
	p->log_images += r->dp.images;
	return 0;
}

int train_loop(struct train_run *r)
{
	int64_t end = r->o.iters;
	struct progress p = {0};
	double miou, lr = 0;
	bool stopped = false;
	int err = check_replicas(r);

	if (r->o.stop_after && r->ts.step + r->o.stop_after < end)
		end = r->ts.step + r->o.stop_after;
	install_handlers();
	p.t0 = p.t_log = kn_seconds();
	p.first_step = r->ts.step;
	p.saved_step = -1;
	p.tty = isatty(STDOUT_FILENO) && r->rank == 0;
	while (!err && r->ts.step < end) {
		/* A signal reaches the ranks at different moments: they stop together. */
		if ((stopped = dist_any(stop_signal != 0)))
			break;
		lr = lr_at(&r->sched, r->ts.step);
		err = r->dp.on ? private_iteration(r, &p, lr, &stopped)
			       : batch_iteration(r, &p, lr, &stopped);
		if (err || stopped)
			break;
		miou = -1;
		if (r->ts.step % r->o.val_every == 0 || r->ts.step == r->o.iters) {
			err = checkpoint_step(r, &miou, r->ts.step == r->o.iters);
			p.saved_step = r->ts.step;
		}
		if (!err && (r->ts.step % r->o.log_every == 0 || miou >= 0 || r->ts.step == end)) {
			if ((err = log_step(r, &p, lr, miou)))
				err = stop_on_log_error(r, err);
			else
				err = check_replicas(r);
		}
		if (!err && miou >= 0 && r->rank == 0)
			(void)runlog_plot(&r->log);
	}
	if (!err)
		err = finish(r, end, &p);
	if (err) {
		if (p.tty)
			putchar('\n');
		if (!peer_failed)
			fprintf(stderr, "knseg train: %s%s\n", dist_where(), kn_errmsg());
		return 1;
	}
	if (stopped) {
		if (r->rank == 0)
			fprintf(stderr, "knseg train: interrupted (signal %d); saved "
				"%s/last.safetensors\n", (int)stop_signal, r->o.out);
		return 130;
	}
	return 0;
}
