// gitway-backend: a small, fast loopback HTTP/1.1 backend for Gitway's proxy tests and benchmarks.
//
//   gitway-backend --listen 127.0.0.1:PORT [--name NAME] [--mode echo|ok] [--threads N] [--ready-file PATH]
//
// Port 0 picks a free port. Once bound it prints `listening HOST:PORT` on stdout and, with --ready-file, writes
// the port number to that file (atomically, via rename), so scripts and tests can wait for it. SIGTERM or SIGINT
// closes the listener and all connections and exits 0. Modes: `echo` (default; see EchoHandler.swift) and `ok`
// (200 "ok", the benchmark backend; see OKHandler.swift).
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

enum Mode: String { case echo, ok }

struct Options {
    var host = "127.0.0.1"
    var port = 0
    var name = "backend"
    var mode = Mode.echo
    var threads = 1
    var readyFile: String?
}

let usage = "usage: gitway-backend --listen HOST:PORT [--name NAME] [--mode echo|ok] [--threads N] [--ready-file PATH]"

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("gitway-backend: \(message)\n\(usage)\n".utf8))
    exit(2)
}

func parseOptions(_ arguments: [String]) -> Options {
    var options = Options()
    var i = 0
    func value() -> String {
        i += 1
        guard i < arguments.count else { fail("\(arguments[i - 1]) needs a value") }
        return arguments[i]
    }
    while i < arguments.count {
        switch arguments[i] {
        case "--listen":
            let listen = value()
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
                (0...65535).contains(port)
            else { fail("--listen wants HOST:PORT, got \(listen)") }
            options.host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            options.port = port
        case "--name": options.name = value()
        case "--mode":
            let mode = value()
            guard let m = Mode(rawValue: mode) else { fail("unknown mode \(mode)") }
            options.mode = m
        case "--threads":
            guard let n = Int(value()), n > 0 else { fail("--threads wants a positive number") }
            options.threads = n
        case "--ready-file": options.readyFile = value()
        case "-h", "--help":
            print(usage)
            exit(0)
        default: fail("unknown argument \(arguments[i])")
        }
        i += 1
    }
    return options
}

let options = parseOptions(Array(CommandLine.arguments.dropFirst()))
let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)

let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelInitializer { [options] channel in
        channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            switch options.mode {
            case .ok:
                // OKHandler answers synchronously and in order, so pipelined requests need no assistance.
                try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                try sync.addHandler(OKHandler())
            case .echo:
                let upgrade = WebSocketEcho.upgradeConfiguration(name: options.name)
                try sync.configureHTTPServerPipeline(withServerUpgrade: upgrade, withErrorHandling: true)
                try sync.addHandler(EchoHandler(name: options.name), name: EchoHandler.handlerName)
            }
        }
    }

let server: Channel
do {
    server = try bootstrap.bind(host: options.host, port: options.port).wait()
} catch {
    fail("cannot listen on \(options.host):\(options.port): \(error)")
}
let boundPort = server.localAddress?.port ?? options.port
let boundHost = server.localAddress?.ipAddress ?? options.host

/// Shut down cleanly on SIGTERM / SIGINT: closing the listener ends `closeFuture.wait()` below. (A nonisolated
/// function: a closure written in top-level code would be main-actor isolated and trap on a Dispatch queue.)
func closeOnSignals(_ channel: any Channel) -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { sig in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler { channel.close(promise: nil) }
        source.resume()
        return source
    }
}
let signalSources = closeOnSignals(server)

if let readyFile = options.readyFile {
    do {
        try Data("\(boundPort)\n".utf8).write(to: URL(fileURLWithPath: readyFile), options: .atomic)
    } catch {
        fail("cannot write \(readyFile): \(error)")
    }
}
FileHandle.standardOutput.write(Data("listening \(boundHost):\(boundPort)\n".utf8))

try? server.closeFuture.wait()
try? group.syncShutdownGracefully()  // closes the remaining connections (including /hang ones)
signalSources.forEach { $0.cancel() }
exit(0)
