# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TCP forwarder on loopback that counts the connections made through it.

Put in front of Pebble's ACME port, every ACME client of the benchmark talks
to Pebble through it, so ``connections`` is the number of TLS connections the
clients opened (TLS passes through untouched: Pebble's certificate names
127.0.0.1, and Pebble builds its URLs from the Host header, so every URL in
its answers points at the proxy again).

It runs an asyncio loop in a daemon thread of the benchmark process, so its
CPU time is not counted as the clients' (they are child processes)."""

import asyncio
import socket
import threading

HOST = '127.0.0.1'
CHUNK = 65536


class CountingProxy:
    def __init__(self, target_port, target_host=HOST):
        self.target = (target_host, target_port)
        self.port = None
        self.connections = 0
        self._lock = threading.Lock()
        self._loop = None
        self._server = None
        self._thread = None
        self._ready = threading.Event()
        self._error = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        self._thread = threading.Thread(target=self._run, name='counting-proxy', daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError('the counting proxy did not start')
        if self._error:
            raise self._error
        return self

    def count(self):
        with self._lock:
            return self.connections

    def _run(self):
        self._loop = asyncio.new_event_loop()
        try:
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, HOST, 0))
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as error:
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    async def _handle(self, client_reader, client_writer):
        with self._lock:
            self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        for writer in (client_writer, upstream_writer):
            sock = writer.get_extra_info('socket')
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer))

    @staticmethod
    async def _pipe(reader, writer):
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except (ConnectionError, OSError):
                pass

    def stop(self):
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
