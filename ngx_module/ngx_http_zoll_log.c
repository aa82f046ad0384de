
/*
 * The transfer log: one chain across all workers and reloads.
 *
 * The head of the chain (last seq and hash) lives in a shared memory zone
 * and every append happens under the zone's mutex, so records of all
 * workers form one sequence; the zone survives a reload.  At start the head
 * is read back from the end of the log (or of the newest rotated file),
 * and a torn last line is reported in the signed "start" checkpoint.
 *
 * Rotation needs no hook: before an append the writer compares the file
 * its descriptor points to with the file the head went to, and at most
 * once a second with the file at the path.  The first writer into a new
 * file begins it with a signed "reopen" checkpoint (so the file can be
 * verified after older ones are pruned); a writer whose descriptor still
 * points at the moved-away file reopens the path first, as nginx itself
 * will on USR1, so no record lands behind the new file's start.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dirent.h>
#include <openssl/rand.h>

#include "ngx_http_zoll_log.h"


struct ngx_http_zoll_log_sh_s {
    zoll_chain_t        chain;
    uint64_t            since;          /* records after the last checkpoint */
    int64_t             checkpoint_ms;
    int64_t             sync_ms;
    dev_t               dev;            /* the file the head was written to */
    ino_t               ino;
    zoll_log_tail_t     tail;           /* how the log ended before start */
    zoll_day_key_t      day;
    unsigned            start:1;        /* the start checkpoint is due */
    unsigned            torn_ended:1;   /* the torn line got its newline */
    unsigned            dirty:1;        /* written since the last sync */
    unsigned            broken:1;       /* a torn write could not be undone */
};


static int64_t
ngx_http_zoll_log_now(void)
{
    ngx_time_t  *tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


/* The newest rotated file's head, when the log itself is empty: after a
 * rotation without a record since, the chain goes on from there.  Rotated
 * files are "<name>.<suffix>" or "<name>-<date>" (logrotate's dateext). */

static void
ngx_http_zoll_log_siblings(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    zoll_log_tail_t *best)
{
    int               fd;
    char              err[ZOLL_ERR_LEN];
    u_char           *slash, dir[NGX_MAX_PATH], path[NGX_MAX_PATH];
    size_t            dlen, blen;
    DIR              *d;
    struct dirent    *de;
    zoll_log_tail_t   t;
    const u_char     *base;

    /* nginx keeps the full path: the directory is up to the last '/' */
    slash = zl->file->name.data + zl->file->name.len;

    do {
        if (--slash < zl->file->name.data) {
            return;
        }
    } while (*slash != '/');

    dlen = slash - zl->file->name.data;
    if (dlen + 2 >= sizeof(dir)) {
        return;
    }

    ngx_cpystrn(dir, zl->file->name.data, (dlen ? dlen : 1) + 1);
    base = slash + 1;
    blen = zl->file->name.data + zl->file->name.len - base;

    d = opendir((char *) dir);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (ngx_strncmp(de->d_name, base, blen) != 0
            || (de->d_name[blen] != '.' && de->d_name[blen] != '-')
            || ngx_strstr(de->d_name + blen, ".gz") != NULL)
        {
            continue;
        }

        ngx_snprintf(path, sizeof(path), "%s/%s%Z", dir, de->d_name);

        fd = open((char *) path, O_RDONLY);
        if (fd == -1) {
            continue;
        }

        if (zoll_log_tail(fd, &t, err, sizeof(err)) != 0) {
            ngx_log_error(NGX_LOG_WARN, log, 0, "zoll: rotated transfer log "
                          "\"%s\" not used to continue the chain: %s",
                          path, err);

        } else if (t.found && t.head.seq > best->head.seq) {
            *best = t;
            best->torn_bytes = 0;     /* the torn line, if any, is there */
        }

        close(fd);
    }

    closedir(d);
}


static ngx_int_t
ngx_http_zoll_log_recover(ngx_http_zoll_log_t *zl, ngx_log_t *log)
{
    int                      rc;
    char                     err[ZOLL_ERR_LEN];
    ngx_fd_t                 fd;
    ngx_file_info_t          fi;
    ngx_http_zoll_log_sh_t  *sh = zl->sh;

    /* nginx's own descriptor is write-only */
    fd = ngx_open_file(zl->file->name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "zoll: cannot read "
                      "transfer log \"%V\"", &zl->file->name);
        return NGX_ERROR;
    }

    rc = zoll_log_tail(fd, &sh->tail, err, sizeof(err));
    (void) ngx_close_file(fd);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "zoll: transfer log \"%V\": "
                      "%s; Zoll will not continue a chain it cannot trust: "
                      "keep the file as evidence (zollctl verify) and move "
                      "it aside to start a new chain", &zl->file->name, err);
        return NGX_ERROR;
    }

    if (!sh->tail.found && sh->tail.torn_bytes == 0) {
        ngx_http_zoll_log_siblings(zl, log, &sh->tail);
    }

    if (ngx_fd_info(zl->file->fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "zoll: fstat of "
                      "transfer log \"%V\" failed", &zl->file->name);
        return NGX_ERROR;
    }

    sh->chain = sh->tail.head;
    sh->dev = fi.st_dev;
    sh->ino = fi.st_ino;
    sh->start = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_zoll_log_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_zoll_log_t  *ozl = data;

    ngx_http_zoll_log_t  *zl;

    zl = shm_zone->data;

    /* a reload: the chain goes on */
    if (ozl) {
        zl->shpool = ozl->shpool;
        zl->sh = ozl->sh;
        return NGX_OK;
    }

    zl->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zl->sh = zl->shpool->data;
        return NGX_OK;
    }

    zl->sh = ngx_slab_calloc(zl->shpool, sizeof(ngx_http_zoll_log_sh_t));
    if (zl->sh == NULL) {
        return NGX_ERROR;
    }

    zl->shpool->data = zl->sh;

    /* also under "nginx -t", which so reports a log it cannot go on with */
    return ngx_http_zoll_log_recover(zl, shm_zone->shm.log);
}


char *
ngx_http_zoll_log_conf(ngx_conf_t *cf, ngx_http_zoll_log_t *zl,
    ngx_str_t *path, void *tag)
{
    ngx_str_t  name;

    /* opened by nginx itself: created at start, reopened on USR1 */
    zl->file = ngx_conf_open_file(cf->cycle, path);
    if (zl->file == NULL) {
        return NGX_CONF_ERROR;
    }

    name.len = sizeof("zoll_transfer_log:") - 1 + zl->file->name.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "zoll_transfer_log:%V", &zl->file->name);

    zl->zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize, tag);
    if (zl->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zl->zone->init = ngx_http_zoll_log_init_zone;
    zl->zone->data = zl;

    return NGX_CONF_OK;
}


/* Appends bytes under the lock.  A partial write is cut off again, so that
 * the log never holds half a record; if even that fails, every further
 * write is refused until a restart reports the torn line.  Only Zoll
 * appends to the file, under the lock, so a short write of n bytes ends
 * the file n bytes after where the record began. */

static ngx_int_t
ngx_http_zoll_log_append(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    u_char *buf, size_t len)
{
    ssize_t          n;
    ngx_file_info_t  fi;

    n = ngx_write_fd(zl->file->fd, buf, len);

    if (n == (ssize_t) len) {
        zl->sh->dirty = 1;
        return NGX_OK;
    }

    if (n == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "zoll: write to "
                      "transfer log \"%V\" failed", &zl->file->name);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_ALERT, log, 0, "zoll: short write to transfer log "
                  "\"%V\": %z of %uz bytes", &zl->file->name, n, len);

    if (ngx_fd_info(zl->file->fd, &fi) == NGX_FILE_ERROR
        || fi.st_size < n
        || ftruncate(zl->file->fd, fi.st_size - n) == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "zoll: cannot cut the "
                      "torn record off transfer log \"%V\": no transfers "
                      "until a restart", &zl->file->name);
        zl->sh->broken = 1;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_zoll_log_sync(ngx_http_zoll_log_t *zl, ngx_log_t *log, int force)
{
    int64_t                  now;
    const zoll_log_conf_t   *lc = zoll_policy_log(zl->policy);
    ngx_http_zoll_log_sh_t  *sh = zl->sh;

    if (lc->durability == ZOLL_DURABILITY_WRITE || !sh->dirty) {
        return NGX_OK;
    }

    now = ngx_http_zoll_log_now();

    if (lc->durability == ZOLL_DURABILITY_INTERVAL && !force
        && now - sh->sync_ms < lc->sync_interval_ms)
    {
        return NGX_OK;
    }

    if (fdatasync(zl->file->fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "zoll: fdatasync of "
                      "transfer log \"%V\" failed", &zl->file->name);
        return NGX_ERROR;
    }

    sh->sync_ms = now;
    sh->dirty = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_zoll_log_checkpoint(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    const char *reason, const char *extra)
{
    u_char                   buf[2048];
    size_t                   n;
    int64_t                  now = ngx_http_zoll_log_now();
    zoll_chain_t             next;
    ngx_http_zoll_log_sh_t  *sh = zl->sh;

    n = zoll_chain_checkpoint(zl->policy, &sh->chain, now, reason, extra,
                              (char *) buf, sizeof(buf), &next);

    if (n == 0 || n >= sizeof(buf)) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "zoll: cannot sign a \"%s\" "
                      "checkpoint of transfer log \"%V\"", reason,
                      &zl->file->name);
        return NGX_ERROR;
    }

    if (ngx_http_zoll_log_append(zl, log, buf, n) != NGX_OK) {
        return NGX_ERROR;
    }

    sh->chain = next;
    sh->since = 0;
    sh->checkpoint_ms = now;

    return ngx_http_zoll_log_sync(zl, log, 0);
}


/* Where the descriptor points and what is at the path; reopens the path
 * when ours was moved away and a newer file is there.  NGX_DECLINED: the
 * descriptor's file is not the one the head went to; fi describes it. */

static ngx_int_t
ngx_http_zoll_log_look(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    ngx_file_info_t *fi)
{
    ngx_fd_t         fd;
    ngx_uint_t       i;
    ngx_file_info_t  at;

    for (i = 0; i < 2; i++) {
        if (ngx_fd_info(zl->file->fd, fi) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "zoll: fstat of "
                          "transfer log \"%V\" failed", &zl->file->name);
            return NGX_ERROR;
        }

        /* moved away and nothing new at the path yet: write on here,
         * the records stay in order */
        if (ngx_file_info(zl->file->name.data, &at) == NGX_FILE_ERROR) {
            if (fi->st_dev == zl->sh->dev && fi->st_ino == zl->sh->ino) {
                return NGX_OK;
            }

            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "zoll: transfer "
                          "log \"%V\" is gone", &zl->file->name);
            return NGX_ERROR;
        }

        if (at.st_dev == fi->st_dev && at.st_ino == fi->st_ino) {
            return fi->st_dev == zl->sh->dev && fi->st_ino == zl->sh->ino
                   ? NGX_OK : NGX_DECLINED;
        }

        /* ours was moved away and a newer one is at the path */
        fd = ngx_open_file(zl->file->name.data, NGX_FILE_APPEND,
                           NGX_FILE_CREATE_OR_OPEN, NGX_FILE_DEFAULT_ACCESS);
        if (fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "zoll: reopening "
                          "transfer log \"%V\" failed", &zl->file->name);
            return NGX_ERROR;
        }

        /* the same descriptor number, so nginx's reopen later closes it */
        if (dup2(fd, zl->file->fd) == -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "zoll: dup2 of "
                          "transfer log \"%V\" failed", &zl->file->name);
            (void) ngx_close_file(fd);
            return NGX_ERROR;
        }

        (void) ngx_close_file(fd);
    }

    return NGX_ERROR;
}


/* Makes sure the descriptor points at the file the chain goes on in: the
 * file at the path, once a rotation put a new one there, even before this
 * process got nginx's reopen signal.  No record lands in the old file
 * after the new one began: the head names the file it went to, and a
 * process whose descriptor is not that file (as it last saw it) looks
 * again.  Otherwise it looks at the path at most once a second, so a
 * file moved away without a reopen signal gets at most a second more of
 * records, in order, before the new one begins; two stat(2) calls per
 * record cost more than the rest of writing it.
 * NGX_DECLINED as for ngx_http_zoll_log_look(); after NGX_OK without a
 * look, fi is not filled in. */

static ngx_int_t
ngx_http_zoll_log_file(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    ngx_file_info_t *fi)
{
    ngx_int_t  rc;

    if (zl->checked == ngx_time() && zl->fd == zl->file->fd
        && zl->dev == zl->sh->dev && zl->ino == zl->sh->ino)
    {
        return NGX_OK;
    }

    rc = ngx_http_zoll_log_look(zl, log, fi);

    if (rc != NGX_ERROR) {
        zl->fd = zl->file->fd;
        zl->dev = fi->st_dev;
        zl->ino = fi->st_ino;
        zl->checked = ngx_time();
    }

    return rc;
}


/* Under the lock, before anything is appended: the pending start
 * checkpoint, or a reopen checkpoint at the head of a new file. */

static ngx_int_t
ngx_http_zoll_log_prepare(ngx_http_zoll_log_t *zl, ngx_log_t *log)
{
    char                     extra[512];
    ngx_int_t                rc;
    ngx_file_info_t          fi;
    ngx_http_zoll_log_sh_t  *sh = zl->sh;

    if (sh->broken) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "zoll: transfer log \"%V\" "
                      "ends with a torn record: no transfers until a "
                      "restart", &zl->file->name);
        return NGX_ERROR;
    }

    rc = sh->start ? ngx_http_zoll_log_look(zl, log, &fi)
                   : ngx_http_zoll_log_file(zl, log, &fi);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (sh->start) {
        if (sh->tail.torn_bytes && !sh->torn_ended) {
            if (ngx_http_zoll_log_append(zl, log, (u_char *) "\n", 1)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            sh->torn_ended = 1;
            ngx_log_error(NGX_LOG_ALERT, log, 0, "zoll: transfer log \"%V\" "
                          "ended with a torn line of %uL bytes at offset %uL"
                          ", reported in the start checkpoint",
                          &zl->file->name, sh->tail.torn_bytes,
                          sh->tail.torn_offset);
        }

        if (zoll_log_tail_json(&sh->tail, extra, sizeof(extra))
            >= sizeof(extra)
            || ngx_http_zoll_log_checkpoint(zl, log, "start", extra)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        sh->start = 0;
        sh->dev = fi.st_dev;
        sh->ino = fi.st_ino;
        return NGX_OK;
    }

    if (rc == NGX_DECLINED) {
        if (ngx_http_zoll_log_checkpoint(zl, log, "reopen", NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        sh->dev = fi.st_dev;
        sh->ino = fi.st_ino;
    }

    return NGX_OK;
}


/* Records since the last checkpoint, and enough of them or long enough
 * ago, to sign them now. */

static ngx_int_t
ngx_http_zoll_log_due(ngx_http_zoll_log_t *zl)
{
    const zoll_log_conf_t   *lc = zoll_policy_log(zl->policy);
    ngx_http_zoll_log_sh_t  *sh = zl->sh;

    return sh->since > 0
           && (sh->since >= lc->checkpoint_records
               || ngx_http_zoll_log_now() - sh->checkpoint_ms
                  >= (int64_t) lc->checkpoint_seconds * 1000);
}


static ngx_int_t
ngx_http_zoll_log_locked(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    u_char *rec, size_t len)
{
    size_t                   n;
    zoll_chain_t             next;
    ngx_http_zoll_log_sh_t  *sh = zl->sh;

    if (ngx_http_zoll_log_prepare(zl, log) != NGX_OK) {
        return NGX_ERROR;
    }

    n = zoll_chain_seal(&sh->chain, (char *) rec, len,
                        len + NGX_HTTP_ZOLL_CHAIN_LEN, &next);

    if (n == 0 || n >= len + NGX_HTTP_ZOLL_CHAIN_LEN) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "zoll: cannot seal a record");
        return NGX_ERROR;
    }

    if (ngx_http_zoll_log_append(zl, log, rec, n) != NGX_OK) {
        return NGX_ERROR;
    }

    sh->chain = next;
    sh->since++;

    if (ngx_http_zoll_log_sync(zl, log, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_zoll_log_due(zl)) {
        /* the record is in: a checkpoint that fails now is retried later */
        (void) ngx_http_zoll_log_checkpoint(zl, log, "interval", NULL);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_zoll_log_write(ngx_http_zoll_log_t *zl, ngx_log_t *log, u_char *rec,
    size_t len)
{
    ngx_int_t  rc;

    ngx_shmtx_lock(&zl->shpool->mutex);
    rc = ngx_http_zoll_log_locked(zl, log, rec, len);
    ngx_shmtx_unlock(&zl->shpool->mutex);

    return rc;
}


/* The master's checkpoints, under the lock.  Without a reason only the
 * pending start checkpoint (written by the preparation) is due. */

static void
ngx_http_zoll_log_mark(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    const char *reason)
{
    ngx_shmtx_lock(&zl->shpool->mutex);

    if (ngx_http_zoll_log_prepare(zl, log) == NGX_OK && reason) {
        (void) ngx_http_zoll_log_checkpoint(zl, log, reason, NULL);
    }

    ngx_shmtx_unlock(&zl->shpool->mutex);
}


/* In the master, after the configuration is in place (not under -t): the
 * start checkpoint, or a reload checkpoint naming the new policy.  A
 * failure here is reported, not fatal: the next record tries again. */

ngx_int_t
ngx_http_zoll_log_init_module(ngx_cycle_t *cycle, ngx_http_zoll_log_t *zl)
{
    if (ngx_test_config || zl->sh == NULL) {
        return NGX_OK;
    }

    ngx_http_zoll_log_mark(zl, cycle->log, zl->sh->start ? NULL : "reload");

    return NGX_OK;
}


void
ngx_http_zoll_log_exit_master(ngx_cycle_t *cycle, ngx_http_zoll_log_t *zl)
{
    if (zl->sh == NULL) {
        return;
    }

    /* every worker has exited: this is the log's last record */
    ngx_http_zoll_log_mark(zl, cycle->log, "shutdown");

    ngx_shmtx_lock(&zl->shpool->mutex);
    (void) ngx_http_zoll_log_sync(zl, cycle->log, 1);
    ngx_shmtx_unlock(&zl->shpool->mutex);
}


static void
ngx_http_zoll_log_today(char *day)
{
    ngx_tm_t  tm;

    ngx_gmtime(ngx_time(), &tm);
    ngx_sprintf((u_char *) day, "%4d-%02d-%02d%Z", tm.ngx_tm_year,
                tm.ngx_tm_mon, tm.ngx_tm_mday);
}


/* A quiet log still gets its tail signed and synced in time, and
 * yesterday's client address key is wiped when the day ends, not when the
 * next request comes: once it is gone, its HMACs link to no address. */

static void
ngx_http_zoll_log_timer(ngx_event_t *ev)
{
    char                     day[sizeof(((zoll_day_key_t *) 0)->day)];
    ngx_http_zoll_log_t     *zl = ev->data;
    const zoll_log_conf_t   *lc = zoll_policy_log(zl->policy);
    ngx_http_zoll_log_sh_t  *sh = zl->sh;

    ngx_http_zoll_log_today(day);
    ngx_shmtx_lock(&zl->shpool->mutex);

    if (ngx_http_zoll_log_due(zl)
        && ngx_http_zoll_log_prepare(zl, ev->log) == NGX_OK)
    {
        (void) ngx_http_zoll_log_checkpoint(zl, ev->log, "interval", NULL);
    }

    (void) ngx_http_zoll_log_sync(zl, ev->log, 0);

    if (sh->day.day[0] && ngx_strcmp(sh->day.day, day) != 0) {
        ngx_explicit_memzero(&sh->day, sizeof(sh->day));
    }

    ngx_shmtx_unlock(&zl->shpool->mutex);

    if (!ngx_exiting) {
        ngx_add_timer(ev, lc->durability == ZOLL_DURABILITY_INTERVAL
                          ? ngx_min(lc->sync_interval_ms,
                                    lc->checkpoint_seconds * 1000)
                          : lc->checkpoint_seconds * 1000);
    }
}


ngx_int_t
ngx_http_zoll_log_init_process(ngx_cycle_t *cycle, ngx_http_zoll_log_t *zl)
{
    zl->timer.handler = ngx_http_zoll_log_timer;
    zl->timer.data = zl;
    zl->timer.log = cycle->log;
    zl->timer.cancelable = 1;

    ngx_add_timer(&zl->timer, 1000);

    return NGX_OK;
}


ngx_int_t
ngx_http_zoll_log_day_key(ngx_http_zoll_log_t *zl, zoll_day_key_t *k)
{
    char        day[sizeof(k->day)];
    ngx_int_t   rc = NGX_OK;

    ngx_http_zoll_log_today(day);

    ngx_shmtx_lock(&zl->shpool->mutex);

    /* a new day: a new key, and yesterday's is gone for good */
    if (ngx_strcmp(zl->sh->day.day, day) != 0) {
        if (RAND_bytes(zl->sh->day.key, ZOLL_DAY_KEY_LEN) == 1) {
            ngx_memcpy(zl->sh->day.day, day, sizeof(day));

        } else {
            rc = NGX_ERROR;
        }
    }

    *k = zl->sh->day;
    ngx_shmtx_unlock(&zl->shpool->mutex);

    return rc;
}
