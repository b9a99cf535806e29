/* stb_impl.c - our own build of stb_image (from Debian's libstb-dev header),
 * used to probe PNG/JPEG/BMP headers (sizes) and to decode BMP pixels
 * (data/image_formats.c); JPEG pixels are decoded by libjpeg-turbo
 * (data/image.c), PNG by libpng. Debian's libstb.so is built
 * with assertions on, and stb_image asserts on some malformed JPEG streams
 * (found by fuzz_image), which would abort the whole program on a hostile
 * file. Here assertions are off, so bad input is handled by the decoder's own
 * error paths and reported by data/image.c. Our definitions take precedence
 * over the shared library's. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO_WARNINGS
#define STBI_ASSERT(x) ((void)0)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <stb_image.h>
