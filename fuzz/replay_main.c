/*
 * replay_main.c - runs a fuzz target over files without libFuzzer, so CTest
 * replays the seed corpus and every fixed crasher on every build (SQLite's
 * fuzzcheck, libpcap's onefile.c).  Each input is copied into an exact-size
 * heap buffer so an off-by-one read trips ASan.
 * Usage: fuzz_x FILE|DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0) {
        fclose(f);
        return 1;
    }
    uint8_t *buf = malloc(len ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    /* exact-size copy: ASan sees any read past len */
    uint8_t *exact = malloc(len ? (size_t)len : 1);
    memcpy(exact, buf, (size_t)len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, (size_t)len);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                    continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                bad += run_file(path);
                n++;
            }
            if (d)
                closedir(d);
        } else {
            bad += run_file(argv[i]);
            n++;
        }
    }
    printf("replayed %d inputs, %d unreadable\n", n, bad);
    if (n == 0) {
        fprintf(stderr, "no inputs replayed\n");
        return 1;
    }
    return bad ? 1 : 0;
}
