using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using static MarketIntel.Cli.LoadTest.Http2Frames;

namespace MarketIntel.Cli.LoadTest;

/// <summary>
/// One HTTP/2 connection carrying the unary gRPC calls of several workers at once, each on its own stream, the way
/// a gRPC channel multiplexes its calls (<c>--streams M</c>, like <c>h2load -m M</c>). Each worker holds a
/// <see cref="Stream"/> handle with one call in flight. Workers take turns writing their frames; one reader task
/// takes every frame off the socket and completes the call its stream belongs to, and the worker's next request
/// is written from that thread. When the connection fails, every call on it fails with the reason, and the next
/// call opens a new connection.
/// </summary>
internal sealed class GrpcH2SharedConnection(EndPoint endPoint, byte[] headerBlock, GrpcH2Connection.MessageWriter writeMessage, bool batch) : IDisposable
{
    private readonly SemaphoreSlim _sending = new(1, 1);   // one writer on the socket at a time
    private readonly object _gate = new();                  // the fields below
    private readonly Dictionary<int, Call> _calls = [];
    private Socket? _socket;
    private int _nextStream;
    private long _sendWindow;
    private long _streamSendWindowInitial;
    private TaskCompletionSource _windowGrown = NewSignal();
    private int _handles;

    /// <summary>A worker's handle: one call at a time on the shared connection.</summary>
    public ILoadConnection Open()
    {
        Interlocked.Increment(ref _handles);
        return new Handle(this, new Call(batch));
    }

    private async ValueTask<Outcome> SendAsync(Call call, AssetPicker picker, Random random, CancellationToken cancellationToken)
    {
        int total = 5 + GrpcH2Connection.WriteMessage(writeMessage, picker, random, ref call.Message);
        call.Start();
        using CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(static c => ((Call)c!).TimedOut(), call);
        Socket? socket = null;
        try
        {
            int offset = -1;   // -1: HEADERS not yet written
            while (true)
            {
                await _sending.WaitAsync(cancellationToken);
                Task? wait;
                try
                {
                    if (offset < 0)
                    {
                        socket = _socket ?? await ConnectAsync(cancellationToken);
                        lock (_gate)
                        {
                            if (call.IsDone)
                            {
                                break;   // timed out while waiting its turn
                            }
                            call.Id = _nextStream;
                            call.Socket = socket;
                            _nextStream += 2;
                            call.Window = _streamSendWindowInitial;
                            _calls.Add(call.Id, call);
                            if (_nextStream > int.MaxValue - 2)
                            {
                                _socket = null;   // stream ids run out after about a billion calls: the next call opens a new connection
                            }
                        }
                        offset = 0;
                    }
                    else if (call.IsDone)
                    {
                        break;   // failed with its connection, or timed out, while waiting for window
                    }
                    (int n, wait) = WriteFrames(call, total, ref offset);
                    await SendAllAsync(socket!, call.Out, n, cancellationToken);
                }
                finally
                {
                    _sending.Release();
                }
                if (wait is null)
                {
                    break;
                }
                await wait.WaitAsync(cancellationToken);
            }
        }
        catch (Exception e) when (LoadSockets.IsRequestFailure(e, cancellationToken))
        {
            if (socket is not null && e is not OperationCanceledException)
            {
                Fail(socket, LoadSockets.Failure(e));
            }
            call.Complete(LoadSockets.Failure(e), call.Sequence);
        }
        Outcome outcome = await new ValueTask<Outcome>(call, call.Version);
        lock (_gate)
        {
            // Still registered when it timed out: later frames of its stream are dropped.
            if (_calls.TryGetValue(call.Id, out Call? registered) && registered == call)
            {
                _calls.Remove(call.Id);
            }
        }
        return outcome;
    }

    /// <summary>
    /// Writes the call's HEADERS (at offset 0) and as many DATA frames as both flow-control windows allow into its
    /// buffer; returns the bytes to send, and what to wait for when the windows ran out before the message did.
    /// </summary>
    private (int Length, Task? Wait) WriteFrames(Call call, int total, ref int offset)
    {
        int need = FrameHeader + headerBlock.Length + (total / MaxFrame + 1) * FrameHeader + total;
        if (call.Out.Length < need)
        {
            call.Out = new byte[need];
        }
        int n = 0;
        if (offset == 0)
        {
            n += WriteFrameHeader(call.Out, headerBlock.Length, Headers, EndHeaders, call.Id);
            headerBlock.CopyTo(call.Out, n);
            n += headerBlock.Length;
        }
        while (offset < total)
        {
            int chunk = Math.Min(MaxFrame, total - offset);
            lock (_gate)
            {
                if (_sendWindow < chunk || call.Window < chunk)
                {
                    return (n, _windowGrown.Task);
                }
                _sendWindow -= chunk;
                call.Window -= chunk;
            }
            bool last = offset + chunk == total;
            n += WriteFrameHeader(call.Out.AsSpan(n), chunk, Data, last ? EndStream : (byte)0, call.Id);
            call.Message.AsSpan(offset, chunk).CopyTo(call.Out.AsSpan(n));
            n += chunk;
            offset += chunk;
        }
        return (n, null);
    }

    /// <summary>Opens the connection (the caller holds the turn to write) and starts its reader.</summary>
    private async ValueTask<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        Socket socket = await LoadSockets.ConnectAsync(endPoint, cancellationToken);
        var start = new byte[128];
        try
        {
            await SendAllAsync(socket, start, WriteConnectionStart(start), cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        lock (_gate)
        {
            _socket = socket;
            _nextStream = 1;
            _sendWindow = 65_535;
            _streamSendWindowInitial = 65_535;
        }
        _ = Task.Run(() => ReadAsync(socket), CancellationToken.None);
        return socket;
    }

    /// <summary>Takes frames off the socket until it fails or closes, completing each call as its stream ends.</summary>
    private async Task ReadAsync(Socket socket)
    {
        var frames = new Http2FrameReader(socket);
        var control = new byte[FrameHeader + 8];
        long received = 0;
        try
        {
            while (true)
            {
                (byte type, byte flags, int id, int length) = await frames.NextAsync(CancellationToken.None);
                Call? ended = null;
                long sequence = 0;
                Outcome outcome = default;
                int reply = 0;
                switch (type)
                {
                    case Data or Headers or Continuation when id != 0:
                        // Under the lock, so a call that timed out meanwhile is neither read into nor completed.
                        lock (_gate)
                        {
                            if (_calls.TryGetValue(id, out Call? call))
                            {
                                if (type == Data)
                                {
                                    call.Answer.OnData(flags, frames.Payload);
                                }
                                else
                                {
                                    call.Answer.OnHeaders(type, flags, frames.Payload);
                                }
                                if ((flags & EndStream) != 0 && type != Continuation)
                                {
                                    (ended, sequence, outcome) = (call, call.Sequence, call.Answer.Outcome());
                                    _calls.Remove(id);
                                }
                            }
                        }
                        if (type == Data && (received += length) > ReceiveWindow / 2)
                        {
                            reply = WriteWindowUpdate(control, 0, (int)received);
                            received = 0;
                        }
                        break;
                    case RstStream when id != 0:
                        lock (_gate)
                        {
                            if (_calls.Remove(id, out Call? call))
                            {
                                (ended, sequence, outcome) = (call, call.Sequence, Outcome.Failed("gRPC stream reset by the server"));
                            }
                        }
                        break;
                    case Settings when (flags & Ack) == 0:
                        if (InitialWindow(frames.Payload) is { } initial)
                        {
                            SetInitialWindow(initial);
                        }
                        reply = WriteFrameHeader(control, 0, Settings, Ack, 0);
                        break;
                    case Ping when (flags & Ack) == 0 && length == 8:
                        WriteFrameHeader(control, 8, Ping, Ack, 0);   // PING ACK with the same data
                        frames.Payload.CopyTo(control.AsSpan(FrameHeader));
                        reply = FrameHeader + 8;
                        break;
                    case WindowUpdate when length == 4:
                        Grow(id, BinaryPrimitives.ReadInt32BigEndian(frames.Payload) & int.MaxValue);
                        break;
                    case GoAway:
                        throw new BadResponseException("the server closed the HTTP/2 connection (GOAWAY)");
                }
                if (reply > 0)
                {
                    await _sending.WaitAsync();
                    try
                    {
                        await SendAllAsync(socket, control, reply, CancellationToken.None);
                    }
                    finally
                    {
                        _sending.Release();
                    }
                }
                // Last: the worker's continuation runs here and may write its next request.
                ended?.Complete(outcome, sequence);
            }
        }
        catch (Exception e)
        {
            Fail(socket, e switch
            {
                SocketException or BadResponseException => LoadSockets.Failure(e),
                ObjectDisposedException => Outcome.Failed("connection closed"),
                _ => Outcome.Failed("bad response: " + e.Message),
            });
        }
    }

    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE changed: every open stream's window moves by the difference.</summary>
    private void SetInitialWindow(long initial)
    {
        lock (_gate)
        {
            long delta = initial - _streamSendWindowInitial;
            _streamSendWindowInitial = initial;
            foreach (Call call in _calls.Values)
            {
                call.Window += delta;
            }
            Signal();
        }
    }

    private void Grow(int id, long increment)
    {
        lock (_gate)
        {
            if (id == 0)
            {
                _sendWindow += increment;
            }
            else if (_calls.TryGetValue(id, out Call? call))
            {
                call.Window += increment;
            }
            Signal();
        }
    }

    private void Signal()
    {
        TaskCompletionSource grown = _windowGrown;
        _windowGrown = NewSignal();
        grown.SetResult();
    }

    /// <summary>The connection failed: every call still on it fails with <paramref name="outcome"/>; the next call reconnects.</summary>
    private void Fail(Socket socket, Outcome outcome)
    {
        (Call Call, long Sequence)[] calls;
        lock (_gate)
        {
            if (_socket == socket)
            {
                _socket = null;
            }
            calls = [.. _calls.Values.Where(c => c.Socket == socket).Select(c => (c, c.Sequence))];
            foreach ((Call call, _) in calls)
            {
                _calls.Remove(call.Id);
            }
            Signal();
        }
        socket.Dispose();
        foreach ((Call call, long sequence) in calls)
        {
            call.Complete(outcome, sequence);
        }
    }

    private static async ValueTask SendAllAsync(Socket socket, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        for (int sent = 0; sent < count;)
        {
            sent += await socket.SendAsync(buffer.AsMemory(sent, count - sent), SocketFlags.None, cancellationToken);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Release()
    {
        if (Interlocked.Decrement(ref _handles) == 0)
        {
            Socket? socket;
            lock (_gate)
            {
                socket = _socket;
                _socket = null;
            }
            LoadSockets.CloseGracefully(socket);
        }
    }

    /// <summary>Closes the connection if a handle was left open; the target calls it after the run.</summary>
    public void Dispose()
    {
        Socket? socket;
        lock (_gate)
        {
            socket = _socket;
            _socket = null;
        }
        socket?.Dispose();
        _sending.Dispose();
    }

    /// <summary>A worker's handle on the shared connection.</summary>
    private sealed class Handle(GrpcH2SharedConnection connection, Call call) : ILoadConnection
    {
        public ValueTask<Outcome> SendAsync(AssetPicker picker, Random random, CancellationToken cancellationToken) =>
            connection.SendAsync(call, picker, random, cancellationToken);

        public ValueTask DisposeAsync()
        {
            connection.Release();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// One worker's call, reused for each of its requests; completed once per request, by its answer, its connection
    /// failing or its timeout, whichever comes first. A completion names the request (<see cref="Sequence"/>) it is
    /// for, so one that comes late can never complete the worker's next request.
    /// </summary>
    private sealed class Call(bool batch) : IValueTaskSource<Outcome>
    {
        public readonly GrpcAnswer Answer = new(batch);
        public byte[] Message = new byte[16 * 1024];
        public byte[] Out = new byte[16 * 1024];
        public int Id;
        public long Window;
        public Socket? Socket;
        private ManualResetValueTaskSourceCore<Outcome> _core;   // continuations run where the call completes
        private long _state;                                      // the request's sequence number times 2, plus 1 once completed

        public short Version => _core.Version;

        public long Sequence => Volatile.Read(ref _state) >> 1;

        public bool IsDone => (Volatile.Read(ref _state) & 1) != 0;

        public void Start()
        {
            _core.Reset();
            Answer.Reset();
            Id = 0;
            Socket = null;
            Volatile.Write(ref _state, ((_state >> 1) + 1) << 1);
        }

        public void Complete(Outcome outcome, long sequence)
        {
            if (Interlocked.CompareExchange(ref _state, (sequence << 1) | 1, sequence << 1) == sequence << 1)
            {
                _core.SetResult(outcome);
            }
        }

        /// <summary>From the request's token: registered after <see cref="Start"/> and disposed before the next, so always for the current request.</summary>
        public void TimedOut() => Complete(Outcome.Failed("timeout"), Sequence);

        public Outcome GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
