using System.Buffers.Binary;
using System.Net;
using System.Threading.Tasks.Sources;
using static MarketIntel.LoadTest.Http2Frames;

namespace MarketIntel.LoadTest;

/// <summary>
/// One HTTP/2 connection (prior knowledge without TLS, or ALPN h2 over TLS) carrying unary gRPC calls, each on its
/// own stream, the way a gRPC channel multiplexes its calls: the calls of M workers with <c>--streams M</c> (like
/// <c>h2load -m M</c>), or one worker's alone with <c>--streams 1</c>, the same client with one stream. Each worker
/// holds a handle with one call in flight. One reader per socket takes the frames off it and completes the call each
/// stream belongs to; the worker's next request is then written on the reader's thread. Frames to send are gathered
/// in one buffer and written together: while the reader works through frames it has already received, what the
/// completed calls send next waits, and goes out in one write before the reader waits for the socket again (as a
/// gRPC client's connection writes its frames). When the connection fails, every call on it fails with the reason,
/// and the next call opens a new connection.
/// Why a client of its own: Grpc.Net.Client spent more CPU per call than the grid's server did (26 µs against 19 µs
/// on the 2-core VM), so on a machine shared with the server the load generator, not the server, set the figure.
/// This one sends a header block computed once per target and a hand-encoded request message, and reads only what
/// it needs from the answer (<see cref="GrpcAnswer"/>).
/// </summary>
internal sealed class GrpcH2Connection(EndPoint endPoint, LoadTls? tls, byte[] headerBlock, GrpcH2Connection.MessageWriter writeMessage, bool batch) : IDisposable
{
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private Link? _link;
    private int _handles;

    /// <summary>Writes one request message (protobuf, without the gRPC prefix); returns its length, or -1 when it does not fit.</summary>
    public delegate int MessageWriter(AssetPicker picker, Random random, Span<byte> destination);

    /// <summary>A worker's handle: one call at a time on the connection.</summary>
    public ILoadConnection Open()
    {
        Interlocked.Increment(ref _handles);
        return new Handle(this, new Call(batch));
    }

    private async ValueTask<Outcome> SendAsync(Call call, AssetPicker picker, Random random, CancellationToken cancellationToken)
    {
        int total = 5 + WriteMessage(writeMessage, picker, random, ref call.Message);
        call.Start();
        using CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(static c => ((Call)c!).TimedOut(), call);
        Link? link = null;
        try
        {
            link = Volatile.Read(ref _link);
            if (link is null || !link.Open)
            {
                link = await ConnectAsync(cancellationToken);
            }
            int offset = -1;   // -1: HEADERS not yet written
            while (true)
            {
                (bool flush, Task? wait) = link.Write(call, headerBlock, total, ref offset);
                if (flush)
                {
                    await link.FlushAsync(cancellationToken);
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
            call.Complete(LoadSockets.Failure(e), call.Sequence);
        }
        Outcome outcome = await new ValueTask<Outcome>(call, call.Version);
        link?.Forget(call);
        return outcome;
    }

    /// <summary>Writes the next request message after its 5-byte gRPC prefix (not compressed, length) into <paramref name="message"/>, growing it as needed; returns the message's length.</summary>
    private static int WriteMessage(MessageWriter writer, AssetPicker picker, Random random, ref byte[] message)
    {
        int length;
        while ((length = writer(picker, random, message.AsSpan(5))) < 0)
        {
            message = new byte[message.Length * 2];
        }
        message[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), length);
        return length;
    }

    private async ValueTask<Link> ConnectAsync(CancellationToken cancellationToken)
    {
        await _connecting.WaitAsync(cancellationToken);
        try
        {
            if (_link is { Open: true } open)
            {
                return open;   // another worker connected meanwhile
            }
            LoadTransport transport = await LoadTransport.ConnectAsync(endPoint, tls, cancellationToken);
            var link = new Link(transport);
            try
            {
                await link.StartAsync(cancellationToken);
            }
            catch
            {
                transport.Dispose();
                throw;
            }
            Volatile.Write(ref _link, link);
            return link;
        }
        finally
        {
            _connecting.Release();
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _handles) == 0)
        {
            Interlocked.Exchange(ref _link, null)?.Close();
        }
    }

    /// <summary>Closes the connection if a handle was left open; the target calls it after the run.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _link, null)?.Close();
        _connecting.Dispose();
    }

    /// <summary>A worker's handle on the connection.</summary>
    private sealed class Handle(GrpcH2Connection connection, Call call) : ILoadConnection
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
    /// One connection: its calls by stream id, its flow-control windows, the frames waiting to be written, and its
    /// reader. At most one write (the one flusher) and one read (the reader) are under way at a time, which is what
    /// an SslStream allows.
    /// </summary>
    private sealed class Link(LoadTransport transport)
    {
        private readonly object _gate = new();   // everything below
        private readonly Dictionary<int, Call> _calls = [];
        private byte[] _pending = new byte[64 * 1024];
        private byte[] _writing = new byte[64 * 1024];
        private int _pendingLength;
        private bool _flushing;                   // a writer is sending: what is appended meanwhile goes with its next write
        private bool _corked;                     // the reader is working through received frames: it writes when done
        private bool _dead;
        private Outcome _failure = Outcome.Failed("connection closed");
        private long _nextStream = 1;
        private long _sendWindow = 65_535;
        private long _streamSendWindowInitial = 65_535;
        private TaskCompletionSource _windowGrown = NewSignal();

        /// <summary>Usable for new calls: not failed, and stream ids left (they run out after about a billion calls).</summary>
        public bool Open
        {
            get
            {
                lock (_gate)
                {
                    return !_dead && _nextStream < int.MaxValue - 2;
                }
            }
        }

        public async ValueTask StartAsync(CancellationToken cancellationToken)
        {
            var start = new byte[128];
            int n = WriteConnectionStart(start);
            await transport.SendAsync(start.AsMemory(0, n), cancellationToken);
            _ = Task.Run(ReadAsync, CancellationToken.None);
        }

        /// <summary>
        /// Appends the call's HEADERS (registering it, when <paramref name="offset"/> is -1) and as many DATA frames
        /// as both flow-control windows allow. Returns whether the caller must write the gathered frames, and what
        /// to wait for when the windows ran out before the message did.
        /// </summary>
        public (bool Flush, Task? Wait) Write(Call call, byte[] headerBlock, int total, ref int offset)
        {
            lock (_gate)
            {
                if (_dead || call.IsDone)
                {
                    // Timed out meanwhile, or the connection failed: a call it never carried fails the same way.
                    call.Complete(_failure, call.Sequence);
                    return (false, null);
                }
                if (offset < 0)
                {
                    call.Id = (int)_nextStream;
                    _nextStream += 2;
                    call.Window = _streamSendWindowInitial;
                    _calls.Add(call.Id, call);
                    Span<byte> headers = Reserve(FrameHeader + headerBlock.Length);
                    WriteFrameHeader(headers, headerBlock.Length, Headers, EndHeaders, call.Id);
                    headerBlock.CopyTo(headers[FrameHeader..]);
                    offset = 0;
                }
                Task? wait = null;
                while (offset < total)
                {
                    int chunk = Math.Min(MaxFrame, total - offset);
                    if (_sendWindow < chunk || call.Window < chunk)
                    {
                        wait = _windowGrown.Task;
                        break;
                    }
                    _sendWindow -= chunk;
                    call.Window -= chunk;
                    Span<byte> frame = Reserve(FrameHeader + chunk);
                    WriteFrameHeader(frame, chunk, Data, offset + chunk == total ? EndStream : (byte)0, call.Id);
                    call.Message.AsSpan(offset, chunk).CopyTo(frame[FrameHeader..]);
                    offset += chunk;
                }
                return (TakeFlush(), wait);
            }
        }

        /// <summary>Writes what is gathered, and what is gathered meanwhile, until nothing is left; only the caller that got Flush from <see cref="Write"/> does.</summary>
        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    byte[] buffer;
                    int n;
                    lock (_gate)
                    {
                        if (_pendingLength == 0 || _dead)
                        {
                            _flushing = false;
                            return;
                        }
                        (buffer, _pending, _writing) = (_pending, _writing, _pending);
                        n = _pendingLength;
                        _pendingLength = 0;
                    }
                    await transport.SendAsync(buffer.AsMemory(0, n), cancellationToken);
                }
            }
            catch (Exception e)
            {
                // A write cut off part-way leaves the connection unusable: every call on it ends.
                Fail(e is OperationCanceledException ? Outcome.Failed("timeout") : LoadSockets.Failure(e));
                throw;
            }
        }

        /// <summary>The call has its outcome: frames still to come for its stream are dropped.</summary>
        public void Forget(Call call)
        {
            lock (_gate)
            {
                if (_calls.TryGetValue(call.Id, out Call? registered) && registered == call)
                {
                    _calls.Remove(call.Id);
                }
            }
        }

        public void Close()
        {
            lock (_gate)
            {
                if (_dead)
                {
                    return;   // failed: the socket is already closed
                }
                _dead = true;
            }
            transport.CloseGracefully();
        }

        private Span<byte> Reserve(int length)
        {
            if (_pendingLength + length > _pending.Length)
            {
                Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + length));
            }
            Span<byte> span = _pending.AsSpan(_pendingLength, length);
            _pendingLength += length;
            return span;
        }

        // Under the lock: whether the caller is now the one to write what is gathered.
        private bool TakeFlush()
        {
            if (_flushing || _corked || _pendingLength == 0)
            {
                return false;
            }
            _flushing = true;
            return true;
        }

        /// <summary>Takes frames off the socket until it fails or closes, completing each call as its stream ends.</summary>
        private async Task ReadAsync()
        {
            var frames = new Http2FrameReader(transport);
            long received = 0;
            try
            {
                while (true)
                {
                    if (!frames.HasBufferedFrame)
                    {
                        // About to wait for the socket: first write what the calls completed so far queued.
                        bool flush;
                        lock (_gate)
                        {
                            _corked = false;
                            flush = TakeFlush();
                        }
                        if (flush)
                        {
                            await FlushAsync(CancellationToken.None);
                        }
                        (byte, byte, int, int) next = await frames.NextAsync(CancellationToken.None);
                        lock (_gate)
                        {
                            _corked = true;
                        }
                        Handle(frames, next, ref received);
                    }
                    else
                    {
                        Handle(frames, await frames.NextAsync(CancellationToken.None), ref received);
                    }
                }
            }
            catch (Exception e)
            {
                Fail(e switch
                {
                    _ when LoadSockets.IsConnectionFailure(e) => LoadSockets.Failure(e),
                    ObjectDisposedException => Outcome.Failed("connection closed"),
                    _ => Outcome.Failed("bad response: " + e.Message),
                });
            }
        }

        /// <summary>One frame: answers go to their calls, control frames are answered (the answers gathered to be written).</summary>
        private void Handle(Http2FrameReader frames, (byte Type, byte Flags, int Stream, int Length) frame, ref long received)
        {
            (byte type, byte flags, int id, int length) = frame;
            Call? ended = null;
            long sequence = 0;
            Outcome outcome = default;
            lock (_gate)
            {
                switch (type)
                {
                    case Data or Headers or Continuation when id != 0:
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
                                (ended, sequence, outcome) = (call, call.Sequence, call.Answer.ToOutcome());
                                _calls.Remove(id);
                            }
                        }
                        if (type == Data && (received += length) > ReceiveWindow / 2)
                        {
                            WriteWindowUpdate(Reserve(FrameHeader + 4), 0, (int)received);
                            received = 0;
                        }
                        break;
                    case RstStream when id != 0:
                        if (_calls.Remove(id, out Call? reset))
                        {
                            (ended, sequence, outcome) = (reset, reset.Sequence, Outcome.Failed("gRPC stream reset by the server"));
                        }
                        break;
                    case Settings when (flags & Ack) == 0:
                        if (InitialWindow(frames.Payload) is { } initial)
                        {
                            // Every open stream's window moves by the difference.
                            foreach (Call open in _calls.Values)
                            {
                                open.Window += initial - _streamSendWindowInitial;
                            }
                            _streamSendWindowInitial = initial;
                            Signal();
                        }
                        WriteFrameHeader(Reserve(FrameHeader), 0, Settings, Ack, 0);
                        break;
                    case Ping when (flags & Ack) == 0 && length == 8:
                        Span<byte> pong = Reserve(FrameHeader + 8);
                        WriteFrameHeader(pong, 8, Ping, Ack, 0);   // PING ACK with the same data
                        frames.Payload.CopyTo(pong[FrameHeader..]);
                        break;
                    case WindowUpdate when length == 4:
                        long increment = BinaryPrimitives.ReadInt32BigEndian(frames.Payload) & int.MaxValue;
                        if (id == 0)
                        {
                            _sendWindow += increment;
                        }
                        else if (_calls.TryGetValue(id, out Call? grown))
                        {
                            grown.Window += increment;
                        }
                        Signal();
                        break;
                    case GoAway:
                        throw new BadResponseException("the server closed the HTTP/2 connection (GOAWAY)");
                }
            }
            // Last, outside the lock: the worker's continuation runs here and gathers its next request.
            ended?.Complete(outcome, sequence);
        }

        // Under the lock: wakes writers waiting for window (and, after a failure, lets them see it).
        private void Signal()
        {
            TaskCompletionSource grown = _windowGrown;
            _windowGrown = NewSignal();
            grown.SetResult();
        }

        /// <summary>The connection failed: every call still on it fails with <paramref name="outcome"/>.</summary>
        private void Fail(Outcome outcome)
        {
            (Call Call, long Sequence)[] calls;
            lock (_gate)
            {
                if (!_dead)
                {
                    _failure = outcome;
                }
                _dead = true;
                _pendingLength = 0;
                calls = [.. _calls.Values.Select(c => (c, c.Sequence))];
                _calls.Clear();
                Signal();
            }
            transport.Dispose();
            foreach ((Call call, long sequence) in calls)
            {
                call.Complete(outcome, sequence);
            }
        }

        private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
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
        public int Id;
        public long Window;
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
