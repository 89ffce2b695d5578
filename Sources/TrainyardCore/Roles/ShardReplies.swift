/// What the answers of every parameter shard to one pull add up to. Pure: the shell scatters the
/// values; this decides the step and the end of the job from the shards' headers.
public struct MergedPull: Sendable, Equatable {
    /// The lowest global step among the shards: every shard is at least this far along.
    public var globalStep: Int64
    /// Some shard reached the last step.
    public var done: Bool
    /// Every shard reached the last step (no push is still on its way to one of them).
    public var allDone: Bool

    public init(globalStep: Int64, done: Bool, allDone: Bool) {
        self.globalStep = globalStep
        self.done = done
        self.allDone = allDone
    }

    /// Merges the shards' replies, in shard order. No shards: step 0, not done, all done.
    public init<S: Sequence>(merging replies: S) where S.Element == Parameters {
        var merged = MergedPull(globalStep: 0, done: false, allDone: true)
        var first = true
        for reply in replies {
            merged.globalStep = first ? reply.globalStep : min(merged.globalStep, reply.globalStep)
            merged.done = merged.done || reply.done
            merged.allDone = merged.allDone && reply.done
            first = false
        }
        self = merged
    }
}

/// What the answers of every parameter shard to one push add up to.
public struct MergedPush: Sendable, Equatable {
    /// The highest step any shard reached, whether all applied the gradients, whether every shard
    /// is done (`values` is always empty: the shell scatters each shard's values itself). Every
    /// shard, not some: a shard one push behind the others (a push a held shard refused, and that
    /// the trainer sent again to all) still needs that push, and the job ends when it has it.
    public var reply: PushReply
    /// Every shard sent back all its values: together they are the whole model after the update,
    /// so the next pull need not ask again.
    public var carriedValues: Bool

    public init(reply: PushReply, carriedValues: Bool) {
        self.reply = reply
        self.carriedValues = carriedValues
    }

    /// Merges the shards' replies, in shard order; `shardElements[i]` is how many values shard
    /// `i` holds (a reply with another count carries no usable values).
    public init(merging replies: [PushReply], shardElements: [Int]) {
        self.init(merging: replies, carried: replies.indices.map { $0 < shardElements.count && replies[$0].values.count == shardElements[$0] })
    }

    /// Merges the shards' replies, in shard order; `carried[i]` tells whether shard `i` sent back
    /// all its values (which the shell may already have put in place: the replies' own `values`
    /// are not looked at).
    public init(merging replies: [PushReply], carried: [Bool]) {
        var reply = PushReply(globalStep: 0, applied: true, done: !replies.isEmpty)
        var complete = true
        for (i, r) in replies.enumerated() {
            reply.globalStep = i == 0 ? r.globalStep : max(reply.globalStep, r.globalStep)
            reply.applied = reply.applied && r.applied
            reply.done = reply.done && r.done
            if i >= carried.count || !carried[i] { complete = false }
        }
        self.init(reply: reply, carriedValues: complete)
    }
}
