/* Entry point of the `warden` executable. */
#include "proxy/cli.h"

int main(int argc, char **argv)
{
    return proxy_cli_main(argc, argv);
}
