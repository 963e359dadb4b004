#ifndef CONVERT_H
#define CONVERT_H
int convert(double value, const char *from, const char *to, double *out);
#endif
