import CertbusCore

/// What one executor thread of a `Worker` runs at a time: one claimed job, or a batch of
/// claimed jobs of one kind for that kind's ``BatchJobHandler``.
enum WorkItem: Sendable {
    case single(ClaimedJob)
    case batch(any BatchJobHandler, [ClaimedJob])

    /// The claimed jobs of the item.
    var jobs: [ClaimedJob] {
        switch self {
        case .single(let job): return [job]
        case .batch(_, let jobs): return jobs
        }
    }

    /// Groups claimed jobs into work items, keeping the claim's order: jobs whose handler runs
    /// batches form batches of at most its `maximumBatchSize` (a batch takes the place of its first
    /// job), every other job is an item of its own. A batch handler with a maximum of 1 (or less)
    /// runs its jobs one by one.
    static func group(_ claimed: [ClaimedJob], handlers: HandlerRegistry) -> [WorkItem] {
        var items: [WorkItem] = []
        var open: [JobKind: (index: Int, handler: any BatchJobHandler, jobs: [ClaimedJob])] = [:]
        for job in claimed {
            guard let handler = handlers.handler(for: job.job.kind) as? any BatchJobHandler, handler.maximumBatchSize > 1 else {
                items.append(.single(job))
                continue
            }
            if var group = open[job.job.kind], group.jobs.count < handler.maximumBatchSize {
                group.jobs.append(job)
                items[group.index] = .batch(group.handler, group.jobs)
                open[job.job.kind] = group
            } else {
                open[job.job.kind] = (items.count, handler, [job])
                items.append(.batch(handler, [job]))
            }
        }
        return items
    }

    /// Extra jobs a claim may ask for beyond the free executor threads when the last claim
    /// brought jobs of batch kinds: enough to fill one more batch (`maximumBatchSize - 1`), 0
    /// otherwise, so workloads without batch kinds claim exactly their free capacity.
    static func batchSlack(after claimed: [WorkItem]) -> Int {
        claimed.reduce(0) { slack, item in
            guard case .batch(let handler, _) = item else { return slack }
            return max(slack, handler.maximumBatchSize - 1)
        }
    }
}
