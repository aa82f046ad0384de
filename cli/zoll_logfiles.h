/*
 * zollctl subcommands that live in their own files.
 */

#ifndef ZOLL_LOGFILES_H
#define ZOLL_LOGFILES_H

int zollctl_usage(void);
int zollctl_verify(int argc, char **argv);
int zollctl_prune(int argc, char **argv);

#endif /* ZOLL_LOGFILES_H */
