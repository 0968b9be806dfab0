namespace OpsConsole.Core.Locks;

/// <summary>How a node of the blocking tree relates to the node above it.</summary>
public enum BlockingEdge
{
    /// <summary>A root: it blocks others and waits for nobody (or, in a cycle, the member the cycle is drawn from).</summary>
    Root,

    /// <summary>It waits for a lock the session above holds.</summary>
    Holds,

    /// <summary>It waits for the session above, which is itself waiting: queued behind it (pg_blocking_pids semantics).</summary>
    QueuedBehind,

    /// <summary>It is already further up this branch: a cycle (a deadlock PostgreSQL has not broken yet). Not expanded again.</summary>
    CycleBack,
}

/// <summary>A session in the blocking tree and the sessions that wait for it.</summary>
/// <param name="Pid">The session.</param>
/// <param name="Edge">How it relates to the node above.</param>
/// <param name="Waiters">Sessions waiting for it.</param>
/// <param name="OtherBlockers">Besides the node above, who else it waits for (it appears under each of them too).</param>
public sealed record BlockingNode(int Pid, BlockingEdge Edge, IReadOnlyList<BlockingNode> Waiters, IReadOnlyList<int> OtherBlockers)
{
    /// <summary>This node and every node below it, depth first, with their depth.</summary>
    public IEnumerable<(BlockingNode Node, int Depth)> Flatten(int depth = 0)
    {
        yield return (this, depth);
        foreach (var waiter in Waiters)
        {
            foreach (var below in waiter.Flatten(depth + 1))
            {
                yield return below;
            }
        }
    }
}

/// <summary>One tree: a root and everyone behind it, or a cycle drawn from one of its members.</summary>
/// <param name="Root">The root node.</param>
/// <param name="Cycle">The pids of a cycle in the order they wait for each other; empty for an ordinary tree.</param>
public sealed record BlockingTree(BlockingNode Root, IReadOnlyList<int> Cycle)
{
    /// <summary>True when the tree is a cycle: every member waits for the next.</summary>
    public bool IsCycle => Cycle.Count > 0;
}

/// <summary>
/// Who blocks whom, from each session's <c>pg_blocking_pids()</c>: roots are sessions that block others and wait
/// for nobody; a waiter with several blockers appears under each; a waiter behind a waiter is marked
/// <see cref="BlockingEdge.QueuedBehind"/>; sessions caught in a cycle (no root leads to them) form a tree of their
/// own drawn from the cycle's lowest pid, and a branch stops where it meets a session already on it.
/// </summary>
/// <param name="Trees">Trees, roots first (longest wait below first), then cycles.</param>
public sealed record BlockingForest(IReadOnlyList<BlockingTree> Trees)
{
    // A branchy graph (many waiters with many blockers) repeats subtrees under each blocker; this bounds the work.
    private const int MaxNodes = 5000;

    /// <summary>No blocking at all.</summary>
    public static BlockingForest Empty { get; } = new([]);

    /// <summary>Builds the forest of <paramref name="sessions"/>.</summary>
    public static BlockingForest Build(IReadOnlyList<LockSession> sessions)
    {
        var byPid = sessions.ToDictionary(s => s.Pid);
        var waitersOf = new Dictionary<int, List<int>>();
        foreach (var session in sessions.OrderBy(s => s.Pid))
        {
            foreach (var blocker in session.BlockedBy.Distinct())
            {
                if (!waitersOf.TryGetValue(blocker, out var list))
                {
                    waitersOf[blocker] = list = [];
                }

                list.Add(session.Pid);
            }
        }

        if (waitersOf.Count == 0)
        {
            return Empty;
        }

        var budget = MaxNodes;
        var reached = new HashSet<int>();
        var trees = new List<BlockingTree>();
        bool IsWaiting(int pid) => byPid.TryGetValue(pid, out var s) && s.BlockedBy.Count > 0;

        BlockingNode Grow(int pid, int parent, BlockingEdge edge, List<int> path)
        {
            reached.Add(pid);
            var others = byPid.TryGetValue(pid, out var s) ? s.BlockedBy.Where(b => b != parent).Distinct().ToList() : [];
            if (edge == BlockingEdge.CycleBack || budget-- <= 0 || !waitersOf.TryGetValue(pid, out var waiters))
            {
                return new BlockingNode(pid, edge, [], others);
            }

            path.Add(pid);
            var children = waiters
                .Select(w => Grow(w, pid, path.Contains(w) ? BlockingEdge.CycleBack : IsWaiting(pid) ? BlockingEdge.QueuedBehind : BlockingEdge.Holds, path))
                .ToList();
            path.RemoveAt(path.Count - 1);
            return new BlockingNode(pid, edge, children, others);
        }

        // Roots: block others, wait for nobody. A blocker that is not a session of this database (a prepared
        // transaction, a session elsewhere) is a root too: nothing here can show what it waits for.
        foreach (var root in waitersOf.Keys.Where(b => !IsWaiting(b)).OrderBy(b => b))
        {
            trees.Add(new BlockingTree(Grow(root, 0, BlockingEdge.Root, []), []));
        }

        // What no root reaches waits in a cycle, or behind one: walk up the first blockers to the repeat.
        foreach (var pid in sessions.Where(s => s.BlockedBy.Count > 0).Select(s => s.Pid).OrderBy(p => p))
        {
            if (reached.Contains(pid))
            {
                continue;
            }

            var walk = new List<int>();
            var current = pid;
            while (!walk.Contains(current) && IsWaiting(current))
            {
                walk.Add(current);
                current = byPid[current].BlockedBy.OrderBy(b => reached.Contains(b) ? 1 : 0).ThenBy(b => b).First();
            }

            var cycle = walk.Contains(current) ? walk[walk.IndexOf(current)..] : [current];
            // Drawn from the lowest pid, members listed in the order they wait for each other (each waits for the next).
            var start = cycle.IndexOf(cycle.Min());
            var ordered = cycle[start..].Concat(cycle[..start]).ToList();
            trees.Add(new BlockingTree(Grow(ordered[0], 0, BlockingEdge.Root, []), ordered.Count > 1 ? ordered : []));
        }

        return new BlockingForest(trees);
    }
}
