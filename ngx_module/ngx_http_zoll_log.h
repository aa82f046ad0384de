
/*
 * The transfer log of the Zoll connector: one hash chain across all
 * workers, its head in a shared memory zone, signed checkpoints, file
 * rotation and durability.  The engine computes hashes and signatures;
 * this part serialises the writers and talks to the file system.
 */

#ifndef NGX_HTTP_ZOLL_LOG_H
#define NGX_HTTP_ZOLL_LOG_H

#include <ngx_config.h>
#include <ngx_core.h>

#include <zoll.h>


typedef struct ngx_http_zoll_log_sh_s  ngx_http_zoll_log_sh_t;

typedef struct {
    ngx_open_file_t            *file;
    ngx_shm_zone_t             *zone;
    ngx_slab_pool_t            *shpool;
    ngx_http_zoll_log_sh_t     *sh;
    const zoll_policy_t        *policy;
    ngx_event_t                 timer;     /* this worker's: idle tail */

    /* this process's descriptor as of its last look at the path */
    ngx_fd_t                    fd;
    dev_t                       dev;
    ino_t                       ino;
    time_t                      checked;
} ngx_http_zoll_log_t;


/* bytes the chain adds to a record (zoll_chain_seal) */
#define NGX_HTTP_ZOLL_CHAIN_LEN  192


char *ngx_http_zoll_log_conf(ngx_conf_t *cf, ngx_http_zoll_log_t *zl,
    ngx_str_t *path, void *tag);
ngx_int_t ngx_http_zoll_log_init_module(ngx_cycle_t *cycle,
    ngx_http_zoll_log_t *zl);
ngx_int_t ngx_http_zoll_log_init_process(ngx_cycle_t *cycle,
    ngx_http_zoll_log_t *zl);
void ngx_http_zoll_log_exit_master(ngx_cycle_t *cycle,
    ngx_http_zoll_log_t *zl);

/* Seals the record rec[0..len) (with NGX_HTTP_ZOLL_CHAIN_LEN bytes of room
 * after it) and appends it.  NGX_ERROR: nothing of it is in the log. */
ngx_int_t ngx_http_zoll_log_write(ngx_http_zoll_log_t *zl, ngx_log_t *log,
    u_char *rec, size_t len);

/* today's key for client address HMACs, made when the day begins */
ngx_int_t ngx_http_zoll_log_day_key(ngx_http_zoll_log_t *zl,
    zoll_day_key_t *k);

#endif /* NGX_HTTP_ZOLL_LOG_H */
