"""Render this package's pages inside pygeoapi's own layout (for every adapter's HTML).

The pages live in `pygeoapi_eoorder/templates/eoorder/` and extend pygeoapi's `_base.html`.
The loader looks first in `server.templates.path` (the offline copy written at start by
`ui.offline_templates`, or the deployer's: a customised `_base.html` applies to these pages
too), then in this package, then in pygeoapi's templates; filters, globals and translations are pygeoapi's, as in
`pygeoapi.util.render_j2_template`.
"""

from __future__ import annotations

from pathlib import Path

from babel.support import Translations
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from pygeoapi import __version__, l10n
from pygeoapi import util as pgutil

TEMPLATES = Path(__file__).resolve().parent.parent / 'templates'


class Renderer:
    """One Jinja environment per web worker, bound to pygeoapi's API object."""

    def __init__(self, api):
        self.api = api
        loaders = []
        custom = (api.config['server'].get('templates') or {}).get('path')
        if custom:
            loaders.append(FileSystemLoader(custom))
        loaders += [FileSystemLoader(str(TEMPLATES)), FileSystemLoader(pgutil.TEMPLATESDIR)]
        env = Environment(loader=ChoiceLoader(loaders), extensions=['jinja2.ext.i18n'],
                          autoescape=select_autoescape())
        for name in ('to_json', 'format_datetime', 'format_duration', 'human_size',
                     'get_path_basename', 'get_breadcrumbs', 'filter_dict_by_key_value'):
            env.filters[name] = getattr(pgutil, name)
        env.globals.update(to_json=pgutil.to_json, get_path_basename=pgutil.get_path_basename,
                           get_breadcrumbs=pgutil.get_breadcrumbs,
                           filter_dict_by_key_value=pgutil.filter_dict_by_key_value)
        locale_dir = api.config['server'].get('locale_dir', 'locale')
        env.install_gettext_translations(Translations.load(locale_dir, [api.default_locale]))
        self.env = env

    def render(self, template: str, data: dict) -> str:
        locale = self.api.default_locale
        data = {'links': [], **data}
        return self.env.get_template(template).render(
            config=l10n.translate_struct(self.api.tpl_config, locale, True), data=data,
            locale=locale, version=__version__)
