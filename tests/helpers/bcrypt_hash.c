/* SPDX-License-Identifier: MIT */
/* bcrypt_hash PASSWORD [COST]: prints a $2y$ bcrypt hash of PASSWORD (for the web tests). */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = { 0 };
	const char *out;

	if (argc < 2) {
		fprintf(stderr, "usage: bcrypt_hash PASSWORD [COST]\n");
		return 2;
	}
	if (!crypt_gensalt_rn("$2y$", argc > 2 ? strtoul(argv[2], NULL, 10) : 10, NULL, 0, salt,
			      sizeof(salt))) {
		perror("crypt_gensalt_rn");
		return 1;
	}
	out = crypt_rn(argv[1], salt, &cd, sizeof(cd));
	if (!out || out[0] == '*') {
		perror("crypt_rn");
		return 1;
	}
	puts(out);
	return 0;
}
