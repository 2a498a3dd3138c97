/* lib/fs: small file-system helpers shared by modules. Blocking; call them
 * at startup, on failure paths, or from the thread pool. */
#ifndef SKIFF_LIB_FS_H
#define SKIFF_LIB_FS_H

/* rm -rf path (a file or a directory tree; symlinks are removed, never
 * followed). Best effort: errors are ignored, callers only clean up. */
void fs_rmtree(const char *path);

#endif
