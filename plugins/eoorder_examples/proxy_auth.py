"""An example authenticator: trust the user name a reverse proxy puts in a header.

Deployments behind an authenticating proxy (e.g. an OIDC gateway) often receive the caller
in a header. Only requests that come from the listed proxy addresses are trusted.

    eoorder:
      auth:
        authenticators:
          - name: eoorder_examples.proxy_auth.ProxyHeaderAuthenticator
            header: X-Forwarded-User
            roles_header: X-Forwarded-Roles
            trusted_proxies: [127.0.0.1]
"""

from pygeoapi_eoorder.auth import AuthenticationFailed, Authenticator, User


class ProxyHeaderAuthenticator(Authenticator):
    scheme = 'Proxy'

    def __init__(self, options, base_dir):
        super().__init__(options, base_dir)
        self.header = options.get('header', 'X-Forwarded-User')
        self.roles_header = options.get('roles_header', 'X-Forwarded-Roles')
        self.trusted = set(options.get('trusted_proxies', ['127.0.0.1']))

    def authenticate(self, request):
        name = request.headers.get(self.header)
        if name is None:
            return None
        if request.remote_addr not in self.trusted:
            raise AuthenticationFailed(f'{self.header} is only accepted from trusted proxies')
        roles = request.headers.get(self.roles_header, '')
        return User(name.strip(), frozenset(r for r in roles.replace(',', ' ').split() if r))
