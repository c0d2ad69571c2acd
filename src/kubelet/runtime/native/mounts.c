// weft-mounts: the container supervisor's (launcher.ts) mount work in one process. Each
// operation is a word followed by its arguments; they run in order and the first failure
// ends the program with exit code 1 and one line on stderr naming it. mount(8) would be one
// program per mount (it parses the mount table each time): a container start made ~18.
//
//   mount FSTYPE SOURCE TARGET OPTIONS   OPTIONS as mount(8)'s -o: flag words (ro, rw,
//                                        nosuid, nodev, noexec, noatime, relatime, bind,
//                                        rbind, move, remount, unbindable, private, slave,
//                                        shared, rec), the rest passed to the filesystem;
//                                        "-" for no FSTYPE, SOURCE or OPTIONS. A bind remount
//                                        keeps the mount's nosuid/nodev/noexec/atime flags.
//   mkdir PATH MODE                      MODE in octal, set exactly (not masked)
//   touch PATH                           an empty file to bind a file onto
//   symlink TARGET PATH
//   copyattr REFERENCE PATH              PATH gets REFERENCE's mode and owner
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const struct {
  const char *word;
  unsigned long flag;
  int clear;
} flag_words[] = {
    {"ro", MS_RDONLY, 0},        {"rw", MS_RDONLY, 1},           {"nosuid", MS_NOSUID, 0},
    {"nodev", MS_NODEV, 0},      {"noexec", MS_NOEXEC, 0},       {"noatime", MS_NOATIME, 0},
    {"relatime", MS_RELATIME, 0}, {"bind", MS_BIND, 0},          {"rbind", MS_BIND | MS_REC, 0},
    {"move", MS_MOVE, 0},        {"remount", MS_REMOUNT, 0},     {"unbindable", MS_UNBINDABLE, 0},
    {"private", MS_PRIVATE, 0},  {"slave", MS_SLAVE, 0},         {"shared", MS_SHARED, 0},
    {"rec", MS_REC, 0},
};

static const unsigned long propagation = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;

static int fail(const char *op, const char *what, int err) {
  fprintf(stderr, "weft-mounts: %s %s: %s\n", op, what, strerror(err));
  return 1;
}

// Splits mount(8)-style options into flags and the filesystem's data (written to data).
static int parse_options(const char *options, unsigned long *flags, char *data, size_t size) {
  *flags = 0;
  data[0] = 0;
  if (strcmp(options, "-") == 0) return 0;
  char *copy = strdup(options);
  if (!copy) return -1;
  size_t used = 0;
  for (char *save = NULL, *word = strtok_r(copy, ",", &save); word; word = strtok_r(NULL, ",", &save)) {
    size_t i;
    for (i = 0; i < sizeof flag_words / sizeof flag_words[0]; i++) {
      if (strcmp(word, flag_words[i].word) == 0) break;
    }
    if (i < sizeof flag_words / sizeof flag_words[0]) {
      if (flag_words[i].clear) *flags &= ~flag_words[i].flag;
      else *flags |= flag_words[i].flag;
      continue;
    }
    size_t len = strlen(word);
    if (used + len + 2 > size) {
      free(copy);
      errno = E2BIG;
      return -1;
    }
    if (used) data[used++] = ',';
    memcpy(data + used, word, len + 1);
    used += len;
  }
  free(copy);
  return 0;
}

static int do_mount(char **a) {
  const char *fstype = strcmp(a[0], "-") ? a[0] : NULL;
  const char *source = strcmp(a[1], "-") ? a[1] : NULL;
  const char *target = a[2];
  unsigned long flags;
  char data[4096];
  if (parse_options(a[3], &flags, data, sizeof data) != 0) return fail("mount", target, errno);
  if (flags & propagation) {
    // A propagation change is a call of its own, with no other flag.
    if (flags & ~(propagation | MS_REC)) return fail("mount", target, EINVAL);
    if (mount(NULL, target, NULL, flags, NULL) != 0) return fail("mount", target, errno);
    return 0;
  }
  if ((flags & MS_REMOUNT) && (flags & MS_BIND)) {
    struct statvfs st;
    if (statvfs(target, &st) != 0) return fail("mount", target, errno);
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  }
  if (mount(source, target, fstype, flags, data[0] ? data : NULL) != 0) return fail("mount", target, errno);
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc;) {
    const char *op = argv[i];
    int left = argc - i - 1;
    char **a = argv + i + 1;
    if (strcmp(op, "mount") == 0 && left >= 4) {
      if (do_mount(a)) return 1;
      i += 5;
    } else if (strcmp(op, "mkdir") == 0 && left >= 2) {
      char *end;
      long mode = strtol(a[1], &end, 8);
      if (*a[1] == 0 || *end || mode < 0 || mode > 07777) return fail("mkdir", a[1], EINVAL);
      if (mkdir(a[0], 0700) != 0 || chmod(a[0], (mode_t)mode) != 0) return fail("mkdir", a[0], errno);
      i += 3;
    } else if (strcmp(op, "touch") == 0 && left >= 1) {
      int fd = open(a[0], O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0) return fail("touch", a[0], errno);
      close(fd);
      i += 2;
    } else if (strcmp(op, "symlink") == 0 && left >= 2) {
      if (symlink(a[0], a[1]) != 0) return fail("symlink", a[1], errno);
      i += 3;
    } else if (strcmp(op, "copyattr") == 0 && left >= 2) {
      struct stat st;
      if (stat(a[0], &st) != 0) return fail("copyattr", a[0], errno);
      if (chown(a[1], st.st_uid, st.st_gid) != 0 || chmod(a[1], st.st_mode & 07777) != 0) return fail("copyattr", a[1], errno);
      i += 3;
    } else {
      fprintf(stderr, "weft-mounts: unknown operation or missing arguments at \"%s\"\n", op);
      return 2;
    }
  }
  return 0;
}
