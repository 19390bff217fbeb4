/*
 * export.h — what libketen exports.  The library is built with
 * -fvisibility=hidden: a function or object is part of the API exactly
 * when a public header declares it with KETEN_API.  Everything else
 * carries the internal prefix kt_ and stays inside the library.
 */
#ifndef KETEN_EXPORT_H
#define KETEN_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define KETEN_API __attribute__((visibility("default")))
#else
#define KETEN_API
#endif

#endif
