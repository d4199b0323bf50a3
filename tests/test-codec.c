#include <vhost-user-glib.h>
int main(void){return 0;}
