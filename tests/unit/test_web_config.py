# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The web_site_problems and web_path_problems filters: what the nginx and apache roles refuse to paste
into a web server configuration, and what they accept."""


import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.filter import web_config
from tests.lib.filter_docs import check_filter_doc

VALID = {'name': 'www', 'state': 'present', 'server_names': ['www.example.com', '*.example.com', 'xn--fiqs8s.example', '192.0.2.1'],
         'certificate': '/etc/ssl/certflow/www/fullchain.pem', 'private_key': '/etc/ssl/certflow/www/privkey.pem', 'chain': '',
         'root': '/var/www/html', 'proxy_pass': '', 'listen_addresses': ['127.0.0.1', '[::1]', '*'], 'https_port': 443,
         'http_port': '80', 'challenge_root': '/var/www/certflow-challenges'}


def problems(**changes):
    return web_config.web_site_problems(dict(VALID, **changes), 'certflow_nginx_sites')


def test_a_valid_site_has_no_problems():
    assert problems() == []
    assert problems(root='', proxy_pass='http://127.0.0.1:8080') == []
    assert problems(root='', proxy_pass='https://[2001:db8::1]:8443/app/') == []
    assert problems(root='', proxy_pass='http://backend.internal/') == []


@pytest.mark.parametrize('key,value', [
    ('server_names', ['ok.example.com; location /leak/ { alias /etc/; autoindex on; } #']),
    ('server_names', ['ok.example.com\n']),
    ('server_names', ['a b']),
    ('server_names', ['a.example.com#']),
    ('server_names', ['bücher.example']),
    ('server_names', ['-bad.example.com']),
    ('proxy_pass', 'http://127.0.0.1:8080;'),
    ('proxy_pass', 'http://127.0.0.1:8080\n'),
    ('proxy_pass', 'http://127.0.0.1:99999'),
    ('proxy_pass', 'http://[::zz]/'),
    ('proxy_pass', 'http://h/?q=1'),
    ('proxy_pass', 'gopher://h/'),
    ('listen_addresses', ['localhost']),
    ('listen_addresses', ['::1']),
    ('listen_addresses', ['127.0.0.1\n']),
    ('listen_addresses', ['127.0.0.1:443']),
    ('certificate', 'relative.pem'),
    ('private_key', '/etc/k.pem\n'),
    ('root', '/var/www;'),
    ('chain', '/etc/"chain.pem'),
    ('challenge_root', "/var/www/c'"),
    ('root', '/var/www/$host'),
    ('https_port', 0),
    ('http_port', '80; x'),
    ('name', 'www\n'),
    ('name', '../www'),
])
def test_hostile_values_are_named_in_the_problem(key, value):
    found = problems(**{key: value})
    assert len(found) == 1, found
    assert found[0].startswith('certflow_nginx_sites[')
    assert '.%s: ' % key in found[0]


def test_a_newline_is_shown_escaped():
    found = problems(root='/var/www\nautoindex on')
    assert '"/var/www\\nautoindex on"' in found[0]


def test_an_absent_site_needs_only_a_name():
    assert web_config.web_site_problems({'name': 'old', 'state': 'absent', 'server_names': ['x;']}, 'certflow_apache_sites') == []


def test_role_wide_paths():
    assert web_config.web_path_problems({'certflow_nginx_sites_dir': '/etc/nginx/conf.d'}) == []
    found = web_config.web_path_problems({'certflow_nginx_sites_dir': '/tmp/x\n', 'certflow_nginx_sites_enabled_dir': ''})
    assert len(found) == 2
    assert found[0].startswith('certflow_nginx_sites_dir: "/tmp/x\\n"')
    assert found[1] == 'certflow_nginx_sites_enabled_dir: a folder is required'


def test_wrong_input_types_fail_the_template():
    with pytest.raises(AnsibleFilterError):
        web_config.web_site_problems('www', 'certflow_nginx_sites')
    with pytest.raises(AnsibleFilterError):
        web_config.web_path_problems(['/x'])


@pytest.mark.parametrize('filter_name', ['web_site_problems', 'web_path_problems', 'web_setting_problems'])
def test_doc_file_and_ansible_doc(filter_name):
    check_filter_doc(filter_name)


@pytest.mark.parametrize('settings,problem', [
    ({'certflow_nginx_file_prefix': 'certflow-'}, None),
    ({'certflow_nginx_file_prefix': ''}, None),
    ({'certflow_nginx_file_prefix': '../x-'}, 'certflow_nginx_file_prefix: "../x-" is not a file name prefix'),
    ({'certflow_nginx_file_prefix': 'a/b'}, 'certflow_nginx_file_prefix: "a/b"'),
    ({'certflow_nginx_ssl_session_cache': 'shared:certflow_SSL:10m'}, None),
    ({'certflow_apache_ssl_session_cache': 'shmcb:/run/apache2/certflow_ssl_scache(512000)'}, None),
    ({'certflow_apache_ssl_session_timeout': 86400}, None),
    ({'certflow_nginx_resolver': ['127.0.0.53', '[::1]:53']}, None),
    ({'certflow_nginx_resolver': ['127.0.0.53 valid=1s; include /etc/passwd']}, 'certflow_nginx_resolver: "127.0.0.53 valid'),
    ({'certflow_nginx_tls_curves': ['X25519\n']}, 'certflow_nginx_tls_curves: "X25519\\n"'),
    ({'certflow_nginx_ssl_session_timeout': '1d#'}, 'certflow_nginx_ssl_session_timeout: "1d#"'),
    ({'certflow_nginx_ssl_session_timeout': True}, 'certflow_nginx_ssl_session_timeout: True'),
])
def test_web_setting_problems(settings, problem):
    problems = web_config.web_setting_problems(settings)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems
